"""Users and roles. Roles hold lanes: a lane id is a role id."""

from __future__ import annotations

import functools
import hashlib
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.access import logins
from engine.access.logins import Limits, end_user_sessions
from engine.access.roles import FRONT_LINE, ROLE_NAMES  # noqa: F401 (FRONT_LINE: imported from here by the demo and tests)
from engine.access.viewer import Viewer, viewer_of_rows
from engine.clock import utcnow
from engine.errors import NotFound, TourflowError
from engine.store import audit
from engine.store.models import ApiToken, Role, User, UserRole

# The roles and their names; engine/access/policy.py says what each may do.
ROLES: dict[str, str] = ROLE_NAMES


def ensure_roles(session: Session) -> None:
    existing = set(session.execute(select(Role.id)).scalars())
    for role_id, name in ROLES.items():
        if role_id not in existing:
            session.add(Role(id=role_id, name=name))
    session.flush()


def create_user(session: Session, username: str, password: str, roles: list[str],
                display_name: str | None = None, actor: str = audit.SYSTEM_ACTOR,
                attributes: dict[str, str] | None = None) -> User:
    """A new active user; `attributes` route tasks to them (engine/access/policy.py), e.g. {"desk": "邮轮"}."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}")
    if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
        raise ValueError(f"user {username!r} already exists")
    ensure_roles(session)
    user = User(username=username, display_name=display_name or username,
                password_hash=generate_password_hash(password), created_at=utcnow(),
                attributes=dict(attributes or {}))
    user.roles = [session.get(Role, r) for r in roles]
    session.add(user)
    audit.append(session, kind="user_created", actor=actor, at=utcnow(),
                 payload={"username": username, "roles": sorted(roles)})
    return user


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


PASSWORD_MIN = 8


@functools.cache
def dummy_password_hash() -> str:
    """A hash made like the users' ones, checked for unknown users so that they cost the same time."""
    return generate_password_hash(secrets.token_hex(16))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None. Exactly one password hash is verified
    whether the user exists, is inactive or not: the answer's timing does not tell which names exist."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        check_password_hash(dummy_password_hash(), password)
        return None
    return user if check_password(user, password) and user.active else None


def set_password(session: Session, username: str, password: str, actor: str = audit.SYSTEM_ACTOR) -> User:
    """A new password; every login session of the user ends (a stolen session cookie stops working)."""
    if len(password) < PASSWORD_MIN:
        raise TourflowError(f"a password has at least {PASSWORD_MIN} characters", key="user.password_short",
                            params={"limit": PASSWORD_MIN})
    user = _existing_user(session, username)
    user.password_hash = generate_password_hash(password)
    ended = end_user_sessions(session, user.id)
    audit.append(session, kind="password_changed", actor=actor, at=utcnow(),
                 payload={"username": username, "sessions_ended": ended})
    return user


def set_active(session: Session, username: str, active: bool, actor: str = audit.SYSTEM_ACTOR) -> User:
    """Activate or deactivate a user; deactivating ends every login session (and tokens stop working)."""
    user = _existing_user(session, username)
    if user.active == active:
        return user
    user.active = active
    ended = 0 if active else end_user_sessions(session, user.id)
    audit.append(session, kind="user_activated" if active else "user_deactivated", actor=actor, at=utcnow(),
                 payload={"username": username, "sessions_ended": ended})
    return user


def _existing_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} does not exist", key="user.missing", params={"user": username})
    return user


# ---- API tokens --------------------------------------------------------------------------
TOKEN_PREFIX = "tf_"
LABEL_MAX = 80


def token_digest(token: str) -> str:
    """What the api_token table stores (and the bearer-token check compares): sha256 hex of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, label: str = "", actor: str = audit.SYSTEM_ACTOR) -> str:
    """Create an API token for an active user; returns the plaintext, which is stored nowhere.

    Only the sha256 is kept, so the caller must show the plaintext now: it cannot be shown again.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(f"unknown or inactive user {username!r}", key="user.inactive", params={"user": username})
    label = (label or "").strip()
    if len(label) > LABEL_MAX:
        raise TourflowError(f"a token label has at most {LABEL_MAX} characters", key="token.label",
                            params={"limit": LABEL_MAX})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_sha256=token_digest(token), label=label, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.append(session, kind="token_created", actor=actor, at=utcnow(),
                 payload={"token_id": row.id, "username": username, "label": label})
    return token


def find_token_id(session: Session, token: str) -> int | None:
    """The id of a token given its plaintext (None if unknown)."""
    return session.execute(
        select(ApiToken.id).where(ApiToken.token_sha256 == token_digest(token))
    ).scalar_one_or_none()


def revoke_token(session: Session, token_id: int, actor: str = audit.SYSTEM_ACTOR) -> bool:
    """Revoke a token by id; False if it was revoked already. A revoked token never works again."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} does not exist", key="token.missing", params={"id": token_id})
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    owner = session.get(User, row.user_id)
    audit.append(session, kind="token_revoked", actor=actor, at=utcnow(),
                 payload={"token_id": row.id, "username": owner.username if owner else None, "label": row.label})
    return True


# ---- look-ups for the pages, the API and the CLI ------------------------------------------
def find_user(session: Session, username: str) -> User | None:
    """The user of that name, active or not; None if there is none."""
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def token_user(session: Session, digest: str) -> User | None:
    """The user an unrevoked API token (given as its sha256 hex, `token_digest`) acts as."""
    return session.execute(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()


# Built once: every bearer-token request runs it, and a statement object reused keeps its cache key.
# Core columns: plain rows, without the ORM's compile and load steps.
_users, _tokens, _user_roles = User.__table__.c, ApiToken.__table__.c, UserRole.__table__.c
_TOKEN_HOLDER = (
    select(_users.username, _users.display_name, _users.active, _users.attributes, _user_roles.role_id)
    .join_from(User.__table__, ApiToken.__table__, _tokens.user_id == _users.id)
    .outerjoin(UserRole.__table__, _user_roles.user_id == _users.id)
    .where(_tokens.token_sha256 == bindparam("digest"), _tokens.revoked_at.is_(None))
    .add_columns(logins.ADDRESS_FAILURES.label("failures"))  # the throttle's count, on every row
)


def _holder(rows) -> tuple[Viewer, str] | None:
    viewer = viewer_of_rows(rows[0].username, rows) if rows else None
    return (viewer, rows[0].display_name) if viewer is not None else None


def token_holder_unless_blocked(session: Session, digest: str, address: str, limits: Limits
                                ) -> tuple[tuple[Viewer, str] | None, int | None]:
    """((viewer, display name) of the active user an unrevoked token acts as, or None; None), or
    (None, seconds to wait) when the address is past the throttle's limits (`logins.blocked_for`),
    whatever the token. One statement when the token is known and the address under its limit (every
    good request): the user, their roles and the address's failure count together (`token_user` loads
    the ORM row and its roles in two); the throttle's own statement otherwise."""
    rows = session.execute(_TOKEN_HOLDER, {"digest": digest, **logins.address_params(address, limits)}).all()
    if not rows or rows[0].failures >= limits.per_address:
        wait = logins.blocked_for(session, None, address, limits)
        if wait is not None:
            return None, wait
    return _holder(rows), None


def usernames(session: Session) -> list[str]:
    """Every user name, sorted (active or not: the search's actor filter names past workers too)."""
    return list(session.execute(select(User.username).order_by(User.username)).scalars())
