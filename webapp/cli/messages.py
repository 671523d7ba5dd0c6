"""Message templates and staff alerts: `tourflow templates check|preview`, `tourflow alerts show|set`."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from webapp.app_state import tourflow
from webapp.cli.base import emit


@click.group()
def templates() -> None:
    """The message templates of messages/ (TOURFLOW_MESSAGES_DIR): check them, preview one."""


@templates.command("check")
def templates_check() -> None:
    """Render every message kind's files with its sample data; exit 1 naming file:line of each problem."""
    from engine.outbox.templates import templates as folder
    from webapp.message_preview import load_kinds

    load_kinds()
    problems = folder().check()
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{folder().directory}: every message template renders")


@templates.command("preview")
@click.argument("kind")
@click.option("--channel", default="email", show_default=True, type=click.Choice(["email", "webhook", "log"]))
@click.option("--json", "as_json", is_flag=True)
def templates_preview(kind: str, channel: str, as_json: bool) -> None:
    """KIND rendered with its sample data, the customer's data masked."""
    from webapp.message_preview import preview

    shown = preview(kind, channel)
    if as_json:
        emit(shown)
    elif shown["problem"]:
        click.echo(shown["problem"], err=True)
        sys.exit(1)
    else:
        click.echo(f"{shown['subject']}\n\n{shown['body']}")
    if shown["problem"]:
        sys.exit(1)


@click.group()
def alerts() -> None:
    """Staff alert preferences (each user sets their own on 提醒设置; this is the operator's door)."""


@alerts.command("show")
@click.argument("username")
@with_appcontext
def alerts_show(username: str) -> None:
    from engine.outbox import staff_alerts

    with tourflow().runtime.reading() as session:
        emit({**staff_alerts.preference(session, username), "pending": staff_alerts.pending_count(session, username)})


@alerts.command("set")
@click.argument("username")
@click.option("--channel", required=True, type=click.Choice(["none", "email", "webhook"]))
@click.option("--address", default="", help="E-mail address (email) or the recipient's number or id (webhook).")
@click.option("--events", default="new_task,overdue,incident", show_default=True)
@click.option("--as", "actor", default="system", show_default=True)
@with_appcontext
def alerts_set(username: str, channel: str, address: str, events: str, actor: str) -> None:
    from engine.clock import utcnow
    from engine.errors import NotFound
    from engine.outbox import staff_alerts
    from engine.store.models import User

    with tourflow().runtime.transaction() as tx:
        if tx.session.query(User.id).filter(User.username == username).first() is None:
            raise NotFound(f"user {username!r} does not exist", key="user.missing", params={"user": username})
        emit(staff_alerts.set_preference(tx.session, username, channel=channel, address=address,
                                         events=[e.strip() for e in events.split(",") if e.strip()],
                                         actor=actor, now=utcnow()))
