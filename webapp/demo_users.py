"""The demo's users: who they are, their desks and branches (`tourflow demo`, its history)."""

from __future__ import annotations

from engine.access.policy import Role

DEMO_ROLES = [Role.AGENT, Role.RECEPTIONIST, Role.SALES, Role.QC, Role.SUPERVISOR, Role.OPERATOR, Role.GUIDE,
              Role.MANAGER, Role.AUDITOR, Role.OWNER]
# More agents, one per desk (agent1 is the cruise desk); branch staff belong to a branch.
EXTRA_USERS = {"agent2": (Role.AGENT, "孙涛（坐席·旅游）"), "agent3": (Role.AGENT, "钱敏（坐席·自由行）"),
               "sales2": (Role.SALES, "何静（销售·徐家汇）"), "sales3": (Role.SALES, "马骏（销售·杭州）"),
               "sales4": (Role.SALES, "高峰（销售·德州）")}
USER_DESKS = {"agent1": "邮轮", "agent2": "旅游", "agent3": "自由行"}
# Branch staff see their own branch's tasks only (a follow-up of an SH02 customer goes to sales2).
USER_BRANCHES = {"sales1": "SH01", "receptionist1": "SH01", "sales2": "SH02", "sales3": "HZ01", "sales4": "DZ01"}
BRANCH_SALES = {branch: user for user, branch in USER_BRANCHES.items() if user.startswith("sales")}


def demo_users() -> dict[str, tuple[str, str]]:
    """Every demo user: user name -> (role, display name)."""
    return {f"{role}1": (role, DEMO_NAMES[f"{role}1"]) for role in DEMO_ROLES} | EXTRA_USERS


def demo_users_by_role() -> list[tuple[str, list[str]]]:
    """(role, its demo users' names) in DEMO_ROLES order: the login page's list in demo mode."""
    users = demo_users()
    return [(role, sorted(name for name, (held, _display) in users.items() if held == role)) for role in DEMO_ROLES]


def user_attributes(username: str) -> dict[str, str]:
    """A demo user's desk and branch, as the routing attributes the processes' tasks are matched on."""
    desk, branch = USER_DESKS.get(username), USER_BRANCHES.get(username)
    return {**({"desk": desk} if desk else {}), **({"branch": branch} if branch else {})}


DEMO_NAMES = {
    "agent1": "王丽（坐席）", "receptionist1": "李娜（接待）", "sales1": "张伟（销售）",
    "qc1": "刘洋（质检）", "supervisor1": "陈静（主管）", "operator1": "杨帆（计调）",
    "guide1": "赵磊（导游）", "manager1": "黄敏（项目经理）", "auditor1": "周婷（审计）",
    "owner1": "吴强（流程负责人）",
}
