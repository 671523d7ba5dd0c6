"""API tokens, user accounts and the agency's settings."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from webapp.app_state import tourflow
from webapp.cli.base import ID, emit, json_arg


@click.group()
def token() -> None:
    """Bearer tokens for the JSON API (/api/v1)."""


@token.command("create")
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option("--label", default="", help="What the token is for (at most 80 characters).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def token_create(username: str, label: str, as_json: bool) -> None:
    """Create a token; it is printed this once only (the database keeps its sha256)."""
    from engine.access.users import create_token, find_token_id

    runtime = tourflow().runtime
    with runtime.transaction() as tx:
        plaintext = create_token(tx.session, username, label)
        token_id = find_token_id(tx.session, plaintext)
    if as_json:
        emit({"id": token_id, "user": username, "label": label, "token": plaintext})
        return
    click.echo(f"token {token_id} for {username}{f' ({label})' if label else ''}; "
               "store it now, it is not shown again:")
    click.echo(plaintext)


@token.command("revoke")
@click.argument("token_id", type=ID)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke a token by id; it stops working at once."""
    from engine.access.users import revoke_token

    runtime = tourflow().runtime
    with runtime.transaction() as tx:
        changed = revoke_token(tx.session, token_id)
    click.echo(f"token {token_id} revoked" if changed else f"token {token_id} was already revoked")


@click.group()
def user() -> None:
    """User accounts: password, deactivate, activate. Each of these logs the user out everywhere."""


@user.command("password")
@click.argument("username")
@click.password_option(help="The new password (asked twice, hidden, when not given).")
@with_appcontext
def user_password(username: str, password: str) -> None:
    """Set a user's password; every browser session of the user ends."""
    from engine.access.users import set_password

    with tourflow().runtime.transaction() as tx:
        set_password(tx.session, username, password)
    click.echo(f"password of {username} changed; their sessions have ended")


@user.command("deactivate")
@click.argument("username")
@with_appcontext
def user_deactivate(username: str) -> None:
    """The user can no longer log in; their sessions end and their API tokens stop working."""
    _set_active(username, False, f"{username} deactivated; their sessions have ended")


@user.command("activate")
@click.argument("username")
@with_appcontext
def user_activate(username: str) -> None:
    """Let a deactivated user log in again (old sessions stay ended)."""
    _set_active(username, True, f"{username} activated")


def _set_active(username: str, active: bool, done: str) -> None:
    from engine.access.users import set_active

    with tourflow().runtime.transaction() as tx:
        set_active(tx.session, username, active)
    click.echo(done)


@click.group()
def setting() -> None:
    """The agency's settings (handlers/settings.py): rules the documents leave open, per process."""


@setting.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def setting_list(as_json: bool) -> None:
    """Every setting with its current value (defaults included)."""
    from handlers import settings

    with tourflow().runtime.reading() as session:
        values = settings.current(session)
    if as_json:
        emit(values)
        return
    for key, names in values.items():
        for name, value in names.items():
            click.echo(f"{key}.{name} = {json.dumps(value, ensure_ascii=False)}")


@setting.command("set")
@click.argument("name", metavar="KEY.NAME")
@click.argument("value", metavar="JSON")
@click.option("--as", "actor", default="system", help="Who changes it (a process owner; recorded in the audit log).")
@with_appcontext
def setting_set(name: str, value: str, actor: str) -> None:
    """Change one setting, e.g. `tourflow setting set booking_desk.cancel_notice_hours 24`."""
    from engine.access import policy
    from engine.clock import utcnow
    from engine.store import audit
    from handlers import settings

    key, _, field = name.partition(".")
    runtime = tourflow().runtime
    with runtime.transaction() as tx:
        if actor != "system":
            viewer = policy.viewer_named(tx.session, actor)
            policy.require(viewer is not None, f"unknown or inactive user {actor!r}")
            policy.require_capability(viewer, policy.Capability.DEPLOY)
        now = utcnow()
        changed = settings.change(tx.session, key, field, json_arg(value, "JSON"), now)
        audit.append(tx.session, kind="setting_changed", actor=actor, at=now, payload=changed)
    click.echo(f"{key}.{field}: {json.dumps(changed['old'], ensure_ascii=False)} → "
               f"{json.dumps(changed['new'], ensure_ascii=False)}")
