"""The travel agency's service-task handlers, a plug-in of the engine's handler port.

Each module registers functions with `@handler("name")`; `handlers.plugin.load` (the
`tourflow.handlers` entry point) imports them all. Importing this package registers nothing.
"""

from engine.plugins.handlers import BusinessError, HandlerContext, handler

__all__ = ["BusinessError", "HandlerContext", "handler"]
