"""tourflow engine: safe BPMN reading, deployments, persisted runtime, audit log."""
