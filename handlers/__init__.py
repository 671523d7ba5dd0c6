"""Service-task handlers. Each module registers functions with `@handler("name")`."""

from .registry import BusinessError, HandlerContext, handler

__all__ = ["BusinessError", "HandlerContext", "handler"]
