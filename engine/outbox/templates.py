"""Message templates: one Jinja file per message kind and channel, edited by the process owners.

`messages/<kind>.<channel>.j2` (the folder is `engine.config.messages_dir()`); a channel without a
file of its own (`log`) uses the kind's e-mail file. The first line a template renders is the
subject, the rest (after one blank line) the body; a webhook template renders the text an SMS
provider or a group robot gets (its subject is the e-mail file's).

The files are untrusted input: they render in Jinja's sandbox, see only the message's data
(mappings, lists, text, numbers: a name is looked up as a key, never as a Python attribute), and
an undefined name is an error naming the file and line. `check` renders every registered kind
with its sample data, so a missing file or a typo is found by `tourflow templates check`, at
startup of the web app and the worker, and by `tourflow lint`, not by the first real message.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment

from engine.config import messages_dir
from engine.errors import TourflowError

CHANNEL_FILES = ("email", "webhook")  # every kind has these two files; `log` reads the e-mail file
BODY_MAX = 20_000  # characters of one rendered message
SUBJECT_MAX = 200


class TemplateProblem(TourflowError):
    """A template is missing, does not parse, or fails with the data given: `where` is file:line."""

    def __init__(self, message: str, where: str):
        super().__init__(f"{where}: {message}", key="template.problem", params={"where": where, "problem": message})
        self.where = where
        self.problem = message


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    template: str  # the file name it came from


@dataclass(frozen=True)
class KindInfo:
    kind: str
    title: str  # what the kind is, in Chinese, for the pages
    sample: dict[str, Any]  # data the check renders with (and the preview without a real message)
    personal: tuple[str, ...]  # keys of the data that are personal: masked in previews


_KINDS: dict[str, KindInfo] = {}


def register_kind(kind: str, title: str, sample: dict[str, Any], personal: Iterable[str] = ()) -> None:
    """Declare a message kind the code sends, with sample data: `check` then insists on its files."""
    _KINDS[kind] = KindInfo(kind, title, dict(sample), tuple(personal))


def kinds() -> dict[str, KindInfo]:
    return dict(_KINDS)


class _DataOnly(SandboxedEnvironment):
    """A sandbox in which `a.b` and `a[b]` read keys of mappings and items of lists, nothing else."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, LoopContext):  # loop.index, loop.last: Jinja's own, not the data's
            return super().getattr(obj, attribute)
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping) and argument in obj:
            return obj[argument]
        if isinstance(obj, Sequence) and not isinstance(obj, str) and isinstance(argument, int):
            try:
                return obj[argument]
            except IndexError:
                pass
        return self.undefined(obj=obj, name=str(argument))


def _failing_line(exc: BaseException, filename: str) -> int | None:
    """The template line a render error happened at (Jinja rewrites tracebacks onto the file)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(filename):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class MessageTemplates:
    """The templates of one folder; Jinja caches parsed files and re-reads a file that changed."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory is not None else messages_dir()
        self.env = _DataOnly(loader=FileSystemLoader(str(self.directory)), undefined=StrictUndefined,
                             autoescape=False, keep_trailing_newline=False, auto_reload=True)

    def file_for(self, kind: str, channel: str) -> str:
        own = f"{kind}.{channel}.j2"
        if channel in CHANNEL_FILES or (self.directory / own).is_file():
            return own
        return f"{kind}.email.j2"

    def _render_file(self, name: str, data: Mapping[str, Any]) -> str:
        where = f"{self.directory.name}/{name}"
        try:
            template = self.env.get_template(name)
            return template.render(**data)
        except TemplateNotFound:
            raise TemplateProblem("模板文件不存在 (template file missing)", where) from None
        except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            line = _failing_line(exc, name)
            raise TemplateProblem(f"{type(exc).__name__}: {exc}", f"{where}:{line}" if line else where) from None

    def render(self, kind: str, channel: str, data: Mapping[str, Any]) -> Rendered:
        """Subject and body of `kind` for `channel`; TemplateProblem (file:line) when it cannot."""
        email = self._split(self._render_file(self.file_for(kind, "email"), data), kind, "email")
        name = self.file_for(kind, channel)
        if name == self.file_for(kind, "email"):
            return Rendered(email.subject, email.body, name)
        text = self._render_file(name, data).strip()
        if not text:
            raise TemplateProblem("模板渲染结果为空 (renders nothing)", f"{self.directory.name}/{name}")
        return Rendered(email.subject, text[:BODY_MAX], name)

    def _split(self, text: str, kind: str, channel: str) -> Rendered:
        name = self.file_for(kind, channel)
        subject, _, body = text.strip().partition("\n")
        if not subject.strip() or not body.strip():
            raise TemplateProblem("第一行应为主题，空一行后为正文 (first line: subject, then a blank line, then the body)",
                                  f"{self.directory.name}/{name}:1")
        return Rendered(subject.strip()[:SUBJECT_MAX], body.strip()[:BODY_MAX], name)

    def check(self, only: Iterable[str] | None = None) -> list[TemplateProblem]:
        """Every registered kind (or those named) rendered for every channel file with its sample data."""
        problems = []
        for kind in sorted(only if only is not None else _KINDS):
            info = _KINDS.get(kind)
            if info is None:
                problems.append(TemplateProblem("未登记的消息类型 (unknown message kind)", kind))
                continue
            for channel in CHANNEL_FILES:
                try:
                    self.render(kind, channel, info.sample)
                except TemplateProblem as problem:
                    if all(str(p) != str(problem) for p in problems):  # the webhook file reads the e-mail's subject
                        problems.append(problem)
        return problems


_shared: dict[Path, MessageTemplates] = {}


def templates() -> MessageTemplates:
    """The templates of the configured folder (one object per folder and process)."""
    folder = messages_dir()
    if folder not in _shared:
        _shared[folder] = MessageTemplates(folder)
    return _shared[folder]


def render(kind: str, channel: str, data: Mapping[str, Any]) -> Rendered:
    return templates().render(kind, channel, data)


def check_or_exit(where: str) -> None:
    """At startup: print every template problem and exit 1, so a broken file stops a deploy at once."""
    problems = templates().check()
    if problems:
        for problem in problems:
            print(f"{where}: message template: {problem}", file=sys.stderr)
        raise SystemExit(1)


__all__ = ["CHANNEL_FILES", "KindInfo", "MessageTemplates", "Rendered", "TemplateProblem", "check_or_exit",
           "kinds", "register_kind", "render", "templates"]
