"""Login throttling and server-side login sessions, kept in the database.

`tourflow serve` runs several gunicorn workers (and may run on several machines): a counter in
one process's memory would let an attacker spread guesses over the workers, so failures and
sessions live in tables every worker reads (`login_failure`, `login_session`).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.store.models import LoginFailure, LoginSession

ADDRESS_MAX = 64
USERNAME_MAX = 80


@dataclass(frozen=True)
class Limits:
    """At most `per_user` failures per user name and `per_address` per client address in `window`."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


def _retry_after(times: list[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until fewer than `limit` of the failures at `times` (ascending, inside the window) remain."""
    if len(times) < limit:
        return None
    frees_at = times[len(times) - limit] + window
    return max(1, math.ceil((frees_at - now).total_seconds()))


# Built once: every bearer-token request runs it (a statement object reused keeps its cache key).
_failures = LoginFailure.__table__.c  # Core columns: no ORM compile and load steps for a list of times
_FAILURES_BY_ADDRESS = (
    select(_failures.at)
    .where(_failures.address == bindparam("address"), _failures.at > bindparam("since"))
    .order_by(_failures.at)
)
# How many of those there are, as a column beside another statement's (the bearer-token check's: one
# statement for the throttle and the token, engine/access/users.py `token_holder_unless_blocked`).
ADDRESS_FAILURES = (
    select(func.count()).select_from(LoginFailure.__table__)
    .where(_failures.address == bindparam("address"), _failures.at > bindparam("since"))
    .scalar_subquery()
)


def address_params(address: str, limits: Limits) -> dict[str, object]:
    """The bind parameters of ADDRESS_FAILURES: this address's failures inside the window, from now."""
    return {"address": address[:ADDRESS_MAX], "since": utcnow() - limits.window}


def blocked_for(session: Session, username: str | None, address: str, limits: Limits) -> int | None:
    """Seconds the caller must wait (the Retry-After), or None when it may try now."""
    now = utcnow()
    since = now - limits.window
    waits = []
    by_address = session.execute(_FAILURES_BY_ADDRESS, {"address": address[:ADDRESS_MAX], "since": since}
                                 ).scalars().all()
    waits.append(_retry_after(list(by_address), limits.per_address, limits.window, now))
    if username is not None:
        by_user = session.execute(
            select(LoginFailure.at).where(LoginFailure.username == username[:USERNAME_MAX],
                                          LoginFailure.at > since, LoginFailure.cleared.is_(False))
            .order_by(LoginFailure.at)
        ).scalars().all()
        waits.append(_retry_after(list(by_user), limits.per_user, limits.window, now))
    found = [w for w in waits if w is not None]
    return max(found) if found else None


def record_failure(session: Session, username: str | None, address: str, limits: Limits) -> None:
    """Count one failure; failures older than the window are forgotten on the way."""
    now = utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limits.window))
    session.add(LoginFailure(username=None if username is None else username[:USERNAME_MAX],
                             address=address[:ADDRESS_MAX], at=now, cleared=False))


def clear_user_failures(session: Session, username: str) -> None:
    """After a successful login the user name's earlier failures no longer count (the address's still do)."""
    session.execute(update(LoginFailure).where(LoginFailure.username == username[:USERNAME_MAX])
                    .values(cleared=True))


# ---- sessions ------------------------------------------------------------------------------
def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(session: Session, user_id: int, lifetime: timedelta) -> str:
    """A new login session; returns the secret for the (signed) session cookie. Expired rows are removed."""
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    session.add(LoginSession(id=_digest(secret), user_id=user_id, created_at=now, expires_at=now + lifetime))
    return secret


def session_is_live(session: Session, user_id: int, secret: str | None) -> bool:
    if not secret:
        return False
    return session.execute(
        select(func.count()).select_from(LoginSession)
        .where(LoginSession.id == _digest(secret), LoginSession.user_id == user_id,
               LoginSession.expires_at > utcnow())
    ).scalar_one() > 0


def end_session(session: Session, secret: str | None) -> None:
    if secret:
        session.execute(delete(LoginSession).where(LoginSession.id == _digest(secret)))


def end_user_sessions(session: Session, user_id: int) -> int:
    """Log the user out everywhere (password changed, deactivated); returns how many sessions ended."""
    return session.execute(delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount
