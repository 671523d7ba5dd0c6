"""Service-task handlers. Each module registers functions with `@handler("name")`."""

from engine.run.handlers import BusinessError, HandlerContext, handler

__all__ = ["BusinessError", "HandlerContext", "handler"]
