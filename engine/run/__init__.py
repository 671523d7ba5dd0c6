"""Running processes: the Runtime (commands, reads), steps, jobs, messages, timers, the worker,
deployments, incidents and the service-task handler port."""
