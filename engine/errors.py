"""Error types of the engine; the CLI and the web layer each map them to a message and status.

The engine stays language-neutral: an error carries its English `message` (its `str()`, for logs
and scripts) and, where a user may see it, a `key` with `params`: the web layer and the CLI render
that key in the user's language through one catalogue (webapp/error_messages.py).
"""

from __future__ import annotations


class TourflowError(Exception):
    """Base of every error the engine reports to a user."""

    code = "error"

    def __init__(self, message: str, *, key: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.message = message
        self.key = key  # the catalogue's key of this message; None: only the English message
        self.params = dict(params or {})


class BpmnReadError(TourflowError):
    """A BPMN file could not be read: malformed, hostile or too large."""

    code = "bpmn_invalid"

    def __init__(self, filename: str, message: str, line: int = 0, col: int = 0, *,
                 key: str | None = None, params: dict | None = None):
        super().__init__(message, key=key, params={"file": filename, **(params or {})})
        self.filename = filename
        self.line = line
        self.col = col

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.message}"


class DeploymentError(TourflowError):
    """A process could not be deployed; `findings` are lint findings (file:line:col)."""

    code = "deployment_invalid"

    def __init__(self, message: str, findings: list | None = None, *,
                 key: str | None = None, params: dict | None = None):
        super().__init__(message, key=key, params=params)
        self.findings = findings or []


class NotFound(TourflowError):
    code = "not_found"


class FormInvalid(TourflowError):
    """Submitted form data does not satisfy the task's JSON Schema."""

    code = "validation_error"

    def __init__(self, message: str, field: str | None = None, errors: list | None = None, *,
                 key: str | None = None, params: dict | None = None):
        super().__init__(message, key=key, params=params)
        self.field = field
        self.errors = errors or []


class TaskConflict(TourflowError):
    """The task is not ready (completed, cancelled, or lost a race)."""

    code = "conflict"


class NotAllowed(TourflowError):
    """The user's roles do not hold the lane of the task."""

    code = "forbidden"


class ScriptError(TourflowError):
    """An expression or script is unsafe or failed."""

    code = "script_error"


class Refusal(str):
    """Why an action is refused, as English text (it is a `str`) that also carries the catalogue
    key and parameters of the message, so a NotAllowed raised from it can be shown in any language."""

    key: str
    params: dict

    def __new__(cls, text: str, key: str, **params: object) -> Refusal:
        refusal = super().__new__(cls, text)
        refusal.key, refusal.params = key, params
        return refusal


def refused(reason: str) -> NotAllowed:
    """The NotAllowed of a reason: keyed when the reason is a Refusal."""
    return NotAllowed(reason, key=getattr(reason, "key", None), params=getattr(reason, "params", None))
