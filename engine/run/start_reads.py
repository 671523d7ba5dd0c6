"""What a start reads before it writes, in one statement: the deployment it starts on, the next instance
id, the starter's user rows (one per role), and whether anyone has staff alerts on (most often nobody:
the start's new tasks then need no read of who hears of them), instead of one statement each.

The deployment and the id come as scalar subqueries of a one-row select, the user rows by outer joins
on it, so an unknown process, an unknown user and a user without roles still give their one row. The
id: SQLite's max(id) under BEGIN IMMEDIATE (rows.reserve_after adds what this transaction reserved
before), PostgreSQL's sequence (`nextval`, taken even when the start is then refused: a sequence
has gaps anyway). Refusals in the same order and words as before: the process (404), then the user
(403, unknown or inactive), then whether they may start it (the caller's policy.start_refusal).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.orm import Session

from engine.access.policy import Viewer
from engine.access.viewer import acting_viewer
from engine.limits import ID_MAX
from engine.outbox import staff_alerts
from engine.run.catalog import Catalog, Deployed, no_version, not_deployed
from engine.run.rows import reserve_after, viewer_of_rows
from engine.store import driver_sql
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import CurrentVersion, Deployment, ProcessInstance, User, UserRole

_STATEMENTS: dict[tuple[bool, bool, bool], Select] = {}  # (sqlite, a version named, the user read): built once


def start_statement(sqlite: bool, versioned: bool, with_user: bool) -> Select:
    key = (sqlite, versioned, with_user)
    if key not in _STATEMENTS:
        if versioned:
            deployment = select(Deployment.id).where(Deployment.process_id == bindparam("process_id"),
                                                     Deployment.version == bindparam("version"))
        else:
            deployment = select(CurrentVersion.deployment_id).where(CurrentVersion.process_id == bindparam("process_id"))
        next_id = (select(func.max(ProcessInstance.id)).scalar_subquery() if sqlite
                   else func.nextval(func.pg_get_serial_sequence("process_instance", "id")))
        columns = [deployment.scalar_subquery().label("deployment_id"), next_id.label("next_id"),
                   staff_alerts.ANYONE_LISTENING.label("listening")]
        if not with_user:
            _STATEMENTS[key] = select(*columns)
        else:
            one = select(literal(1).label("one")).subquery("one")
            _STATEMENTS[key] = (select(*columns, User.active, User.attributes, UserRole.role_id).select_from(one)
                                .outerjoin(User, User.username == bindparam("username"))
                                .outerjoin(UserRole, UserRole.user_id == User.id))
    return _STATEMENTS[key]


@dataclass(frozen=True)
class StartFacts:
    deployment: Deployed
    starter: Viewer | None  # None: SYSTEM_ACTOR, who is not checked
    instance_id: int  # reserved for the new instance's row


def read_start_facts(session: Session, catalog: Catalog, sqlite: bool, process_id: str, version: int | None,
                     actor: str) -> StartFacts:
    """The deployment `process_id` starts on (`version`, else its current one), the starter and the new
    instance's id, read in the start's write transaction by one statement."""
    if version is not None and not 0 < version <= ID_MAX:
        raise no_version(process_id, version)
    starter = None if actor == SYSTEM_ACTOR else acting_viewer(actor)  # the request's user, read at its start
    with_user = actor != SYSTEM_ACTOR and starter is None
    rows = driver_sql.run(driver_sql.connection_of(session), start_statement(sqlite, version is not None, with_user),
                          {"process_id": process_id, "version": version, "username": actor}).all()
    first = rows[0]
    if first.deployment_id is None:
        if version is not None:
            raise no_version(process_id, version)
        raise not_deployed(process_id)
    deployment = catalog.deployed(session, first.deployment_id)
    if not first.listening:
        staff_alerts.nobody_listens(session)  # the start's new tasks need no read of who hears of them
    if with_user:
        starter = viewer_of_rows(actor, rows)  # NotAllowed for an unknown or inactive user
    instance_id = reserve_after(session, first.next_id) if sqlite else first.next_id
    return StartFacts(deployment, starter, instance_id)


__all__ = ["StartFacts", "read_start_facts", "start_statement"]
