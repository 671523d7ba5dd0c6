"""tourflow's engine: a BPMN runtime any organisation could use (docs/architecture.md).

Subpackages, from the bottom up: `store` (database, tables, migrations), `sandbox` (process
scripts), `access` (the one access policy, privacy, users, logins), `bpmn` (reading, lint,
forms), `run` (the Runtime: commands, steps, jobs, messages, timers, the handler port),
`history` (audit chain, replay, heatmap) and `bench`. The engine imports nothing of
`handlers` or `webapp`; importing it has no side effects.
"""
