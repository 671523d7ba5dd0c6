"""Error types of the engine; the CLI and the web layer each map them to a message and status."""

from __future__ import annotations


class TourflowError(Exception):
    """Base of every error the engine reports to a user."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BpmnReadError(TourflowError):
    """A BPMN file could not be read: malformed, hostile or too large."""

    code = "bpmn_invalid"

    def __init__(self, filename: str, message: str, line: int = 0, col: int = 0):
        super().__init__(message)
        self.filename = filename
        self.line = line
        self.col = col

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.message}"


class DeploymentError(TourflowError):
    """A process could not be deployed; `findings` are lint findings (file:line:col)."""

    code = "deployment_invalid"

    def __init__(self, message: str, findings: list | None = None):
        super().__init__(message)
        self.findings = findings or []


class NotFound(TourflowError):
    code = "not_found"


class FormInvalid(TourflowError):
    """Submitted form data does not satisfy the task's JSON Schema."""

    code = "validation_error"

    def __init__(self, message: str, field: str | None = None, errors: list | None = None):
        super().__init__(message)
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
