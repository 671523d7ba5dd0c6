"""`tourflow demo`: demo users, agency sample data, the processes, a few instances in flight."""

from __future__ import annotations

from collections.abc import Callable

from engine.access.policy import Role
from engine.access.users import FRONT_LINE, ROLES, create_user, find_user
from engine.clock import utcnow
from engine.config import DEFAULT_PROCESSES_DIR
from engine.run import queries, reads
from engine.run.deployments import bpmn_files, deploy_file
from engine.run.runtime import Runtime
from engine.store import audit
from handlers.domain.seed import seed_agency
from webapp import demo_history
from webapp.demo_users import DEMO_ROLES, EXTRA_USERS, demo_users, user_attributes

DEMO_COMPLAINTS = [
    {"customer_name": "张建国", "contact_phone": "13801234567", "complaint_at": "2026-11-20T09:30:00+08:00",
     "time_class": "旅游过程中", "kind": "住宿餐饮", "description": "酒店房间与合同标准不符，空调损坏",
     "customer_request": "更换同级别酒店并赔偿差价", "tour_id": "SH-2026-1118",
     "involves_multiple_departments": False, "escalated_to_authority": False},
    {"customer_name": "李秀英", "contact_phone": "13912345678", "complaint_at": "2026-11-21T14:00:00+08:00",
     "time_class": "旅游后", "kind": "导游服务", "description": "导游多次强制安排购物，态度恶劣",
     "customer_request": "退还购物团费并公开道歉", "tour_id": "HZ-2026-1102",
     "involves_multiple_departments": True, "escalated_to_authority": False},
]


def load_demo(runtime: Runtime, echo: Callable[[str], None] = print) -> None:
    with runtime.transaction() as tx:
        for username, (role, display) in demo_users().items():
            if find_user(tx.session, username) is not None:
                continue
            roles = [role, Role.STAFF] if role in FRONT_LINE else [role]
            create_user(tx.session, username, username, roles, display, attributes=user_attributes(username))
        seed_agency(tx.session)
    for path in bpmn_files([DEFAULT_PROCESSES_DIR]):
        with runtime.transaction() as tx:
            result = deploy_file(tx.session, path, "owner1")
        echo(f"deployed {result.process_id} v{result.version}" + ("" if result.created else " (unchanged)"))
    with runtime.reading() as session:
        running = reads.instance_count(session)
    if not running:
        demo_history.load(runtime, echo=echo)
        _start_demo_instances(runtime)
    with runtime.transaction() as tx:
        audit.append(tx.session, kind="demo_loaded", actor="system", at=utcnow(),
                     payload={"users": [f"{r}1" for r in DEMO_ROLES]})
    echo(f"database: {runtime.db.url}")
    echo("demo users (DEMO ONLY - password = user name):")
    for role in DEMO_ROLES:
        echo(f"  {role}1 / {role}1   {ROLES[role]}")
    for username, (_role, display) in EXTRA_USERS.items():
        echo(f"  {username} / {username}   {display}")


def _start_demo_instances(runtime: Runtime) -> None:
    for complaint in DEMO_COMPLAINTS:
        instance_id = runtime.start("complaint_handling", actor="agent1")
        task = runtime.tasks(instance_id=instance_id)[0]
        runtime.complete(task["id"], "agent1", complaint)
    runtime.start("complaint_handling", actor="receptionist1")
    deployed = {d["process_id"] for d in runtime.startable("owner1")} | _deployed_ids(runtime)
    if "inbound_call" in deployed:  # calls ringing on two desks
        runtime.message("incoming_call", "CALL-DEMO-1", {"caller_number": "13801234567", "desk": "邮轮"})
        runtime.message("incoming_call", "CALL-DEMO-2", {"caller_number": "13912345678", "desk": "旅游"})
    if "ecommerce_chat" in deployed:  # a chat whose customer has just written
        runtime.message("chat_opened", "CHAT-DEMO-1", {"platform": "天猫旺旺", "customer_handle": "tb_xiaoming",
                                                      "desk": "自由行"})
        runtime.message("chat_message", "CHAT-DEMO-1", {"message_text": "三亚五天四晚还有位吗？"})
    if "walk_in_reception" in deployed:
        runtime.start("walk_in_reception", actor="receptionist1")


def _deployed_ids(runtime: Runtime) -> set[str]:
    with runtime.reading() as session:
        return {d["process_id"] for d in queries.deployments(session)}
