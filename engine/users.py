"""Users and roles. Roles hold lanes: a lane id is a role id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit
from .clock import to_db, utcnow
from .models import Role, User

ROLES: dict[str, str] = {
    "staff": "各部门工作人员",
    "agent": "坐席专员",
    "receptionist": "接待人员",
    "sales": "销售人员",
    "qc": "质检培训部",
    "supervisor": "主管",
    "operator": "计调",
    "guide": "导游",
    "manager": "项目经理",
    "auditor": "审计",
    "owner": "流程负责人",
}
# Front-line roles also hold the `staff` lane (各部门工作人员: "any employee" in the documents).
FRONT_LINE = {"agent", "receptionist", "sales", "operator", "guide"}


def ensure_roles(session: Session) -> None:
    existing = set(session.execute(select(Role.id)).scalars())
    for role_id, name in ROLES.items():
        if role_id not in existing:
            session.add(Role(id=role_id, name=name))
    session.flush()


def create_user(session: Session, username: str, password: str, roles: list[str],
                display_name: str | None = None, actor: str = "system") -> User:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}")
    if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
        raise ValueError(f"user {username!r} already exists")
    ensure_roles(session)
    user = User(username=username, display_name=display_name or username,
                password_hash=generate_password_hash(password), created_at=to_db(utcnow()))
    user.roles = [session.get(Role, r) for r in roles]
    session.add(user)
    audit.append(session, kind="user_created", actor=actor, at=utcnow(),
                 payload={"username": username, "roles": sorted(roles)})
    return user


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)
