"""What every command group of the CLI shares: the error-to-exit-code group, id arguments, JSON."""

from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import datetime
from typing import Any

import click
from flask.cli import FlaskGroup

from engine.clock import parse_iso
from engine.errors import DeploymentError, FormInvalid, NotAllowed, TaskConflict, TourflowError
from engine.limits import ID_MAX, BadJson, parse_json
from webapp import error_messages

EXIT_CODES = {FormInvalid: 2, TaskConflict: 3, NotAllowed: 4}
ID = click.IntRange(0, ID_MAX)  # ids of tasks, instances, tokens: what the id columns hold
LANGS = ("zh", "en")


def cli_language() -> str:
    """The language of lint findings on the command line: $TOURFLOW_LANG (zh or en), else English
    (scripts and CI parse the English lines; docs/i18n.md)."""
    lang = os.environ.get("TOURFLOW_LANG", "")
    return lang if lang in LANGS else "en"


LANG_META = "tourflow.lang"  # the --lang a command was given: its errors are printed in it too


def remember_language(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta[LANG_META] = value
    return value


lang_option = click.option("--lang", type=click.Choice(LANGS), default=cli_language, callback=remember_language,
                           show_default="$TOURFLOW_LANG, else en",
                           help="Language of the findings' and errors' messages: zh (中文) or en.")


def error_line(exc: TourflowError, lang: str) -> str:
    """The one stderr line of an engine error, in `lang` (webapp/error_messages.py)."""
    if lang == "zh":
        return f"错误：{error_messages.render(exc, 'zh')}"
    return f"error: {exc.message if isinstance(exc, DeploymentError) else exc}"


class TourflowGroup(FlaskGroup):
    """Turns engine errors into one clear stderr line and the contract's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except DeploymentError as exc:
            lang = ctx.meta.get(LANG_META) or cli_language()
            for finding in exc.findings:
                if finding.severity == "error":
                    click.echo(finding.line_in(lang), err=True)
            click.echo(error_line(exc, lang), err=True)
            sys.exit(1)
        except TourflowError as exc:
            if os.environ.get("FLASK_DEBUG") == "1":
                traceback.print_exc()
            click.echo(error_line(exc, ctx.meta.get(LANG_META) or cli_language()), err=True)
            sys.exit(next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), 1))
        except Exception as exc:  # noqa: BLE001 - a user never sees a traceback unless asked
            if os.environ.get("FLASK_DEBUG") == "1":
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
            sys.exit(1)


def json_arg(value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return parse_json(value)
    except BadJson as exc:
        raise TourflowError(f"{what} is {exc.message}", key="cli.bad_json", params={"what": what}) from None


def emit(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)  # no offset: UTC
    except ValueError:
        raise TourflowError(f"--at {value!r} is not an ISO 8601 date-time", key="cli.bad_at", params={"value": value}) from None
