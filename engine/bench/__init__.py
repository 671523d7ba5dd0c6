"""`tourflow bench`: the engine measured against raw SpiffWorkflow, the inbox, replay and timers."""
