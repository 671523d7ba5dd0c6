"""The `tourflow` command line. Other tools rely on these names, options and exit codes.

Exit codes: 0 done; 1 error (not found, invalid file, ...); 2 validation error;
3 conflict (completed already, not ready, lost race); 4 not allowed (role/lane).
Errors are one line on stderr; `tourflow --debug ...` also shows the traceback.

The commands live in one module per group of tasks (definitions, work, records, accounts,
operate, outbox); `main` gathers them.
"""

from __future__ import annotations

import click

from webapp import create_app
from webapp.cli import accounts, definitions, messages, operate, outbox, records, work
from webapp.cli.base import TourflowGroup

__all__ = ["main"]


@click.group(cls=TourflowGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """tourflow: the agency's BPMN process runner."""


for command in (operate.info, definitions.deploy, definitions.activate, definitions.diff, definitions.migrate,
                definitions.handlers, definitions.lint, work.start, work.tasks, work.complete, work.claim,
                work.unclaim, work.reassign, work.show, work.events, work.tick, work.message, records.replay,
                records.jobs, records.messages, work.cancel, records.incident, records.audit, accounts.token,
                accounts.user, accounts.setting, operate.serve, operate.worker, operate.demo, operate.bench,
                operate.search_backfill, messages.templates, messages.alerts,
                outbox.outbox):
    main.add_command(command)
