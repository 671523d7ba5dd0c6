"""The service-task handler port: what a plug-in registers (`@handler`), what a handler receives
(`HandlerContext`, with what it may read of its instance) and how it refuses (`BusinessError`).
Plug-ins are found by entry point (group `tourflow.handlers`) or TOURFLOW_HANDLER_MODULES."""
