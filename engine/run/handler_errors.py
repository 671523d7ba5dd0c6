"""What a step makes of a failure: a handler's own exception kept whole, a script's found behind
SpiffWorkflow's wrappers."""

from __future__ import annotations

from engine.errors import ScriptError


class HandlerFailed(Exception):
    """A handler raised; keeps the real exception (SpiffWorkflow would say `NameError: script`)."""

    def __init__(self, name: str, original: BaseException):
        super().__init__(f"handler {name!r} failed: {type(original).__name__}: {original}")
        self.handler = name
        self.original = original


def script_error_in(exc: BaseException) -> ScriptError | None:
    """The sandbox's own error behind SpiffWorkflow's wrappers, if a script failed."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ScriptError):
            return current
        stack.extend([getattr(current, "exception", None), current.__cause__, current.__context__])
    return None


__all__ = ["HandlerFailed", "script_error_in"]
