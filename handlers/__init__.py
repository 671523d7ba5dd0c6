"""Service-task handlers. Each module registers functions with `@handler("name")`."""

from .registry import HandlerContext, handler

__all__ = ["HandlerContext", "handler"]
