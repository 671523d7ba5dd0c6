"""The three holes of issue 12 the one access policy (engine/access/policy.py) closes:

- the task page showed another desk's or branch's task, its customer and its form;
- a task could be reassigned to someone who cannot work it (another desk or branch): then it was in
  nobody's inbox and not even a supervisor could recover it;
- a process version's diagram API gave every role the BPMN XML, scripts included.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from engine.config import DEFAULT_PROCESSES_DIR
from engine.errors import NotAllowed
from engine.store.models import User
from tests.support.api import Api
from tests.support.complaint import COMPLAINT

PHONE = "13800001111"


@pytest.fixture
def desk_task(app, runtime) -> dict:
    """The intake task of a complaint for the 旅游 desk at branch HZ01 (lane staff)."""
    instance = runtime.start("complaint_handling", {"desk": "旅游", "branch": "HZ01", "customer_name": "赵六",
                                                     "contact_phone": PHONE})
    [task] = runtime.tasks(instance_id=instance)
    return task


@pytest.fixture
def api(app, runtime) -> Api:
    return Api(app, runtime)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_task_page_of_another_desk_or_branch_is_403_and_shows_nothing_of_it(client_for, desk_task):
    url = f"/tasks/{desk_task['id']}"
    for who in ("agent1", "agent3", "sales1", "sales2", "receptionist1"):  # other desks, other branches
        response = client_for(who).get(url)
        assert response.status_code == 403, who
        assert PHONE not in text(response) and "赵六" not in text(response), who
        assert 'name="customer_name"' not in text(response), f"{who} sees no form"
    for who in ("agent2", "sales3", "guide1", "supervisor1", "auditor1"):
        assert client_for(who).get(url).status_code == 200, who


def test_a_task_is_reassigned_only_to_someone_who_can_work_it(runtime, client_for, api, desk_task):
    task_id = desk_task["id"]
    runtime.claim(task_id, "agent2")
    for target in ("agent1", "sales2"):  # the 邮轮 desk; branch SH02
        with pytest.raises(NotAllowed, match="cannot work task"):
            runtime.reassign(task_id, "agent2", target, "换人")
        response = api.as_("agent2").post(f"/api/v1/tasks/{task_id}/reassign", {"to": target, "reason": "换人"})
        assert (response.status_code, response.get_json()["field"]) == (422, "to"), target
        response = client_for("agent2").post(f"/tasks/{task_id}/reassign", data={"to_user": target, "reason": "换人"})
        assert response.status_code == 422 and "柜台或网点不同" in text(response), target
    assert runtime.task(task_id)["assignee"] == "agent2"
    page = text(client_for("agent2").get(f"/tasks/{task_id}"))
    assert 'value="sales3"' in page and 'value="agent1"' not in page, "the form offers only who can work it"
    runtime.reassign(task_id, "agent2", "sales3", "杭州网点跟进")
    assert runtime.task(task_id)["assignee"] == "sales3"


def test_a_supervisor_recovers_a_task_its_assignee_can_no_longer_work(runtime, client_for, api, desk_task):
    task_id = desk_task["id"]
    runtime.claim(task_id, "agent2")
    with runtime.db.write() as session, session.begin():  # agent2 moves to the cruise desk
        session.execute(select(User).where(User.username == "agent2")).scalar_one().attributes = {"desk": "邮轮"}
    with pytest.raises(NotAllowed, match="desk 旅游; agent2 works at desk 邮轮"):
        runtime.complete(task_id, "agent2", COMPLAINT)
    supervisor = client_for("supervisor1")  # holds no staff lane
    page = supervisor.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and 'value="guide1"' in text(page) and 'value="agent2"' not in text(page)
    response = supervisor.post(f"/tasks/{task_id}/reassign", data={"to_user": "guide1", "reason": "agent2 调岗"})
    assert response.status_code == 302
    assert runtime.task(task_id)["assignee"] == "guide1"
    assert api.as_("supervisor1").post(f"/api/v1/tasks/{task_id}/unclaim").get_json()["assignee"] is None
    runtime.complete(task_id, "sales3", COMPLAINT)
    assert runtime.task(task_id)["completed_by"] == "sales3"


def test_a_process_versions_diagram_is_for_owners_auditors_and_managers(api):
    url = "/api/v1/processes/complaint_handling/versions/1/diagram"
    for who in ("agent1", "qc1", "supervisor1", "guide1"):
        response = api.as_(who).get(url)
        assert (response.status_code, response.get_json()["error"]) == (403, "forbidden"), who
        assert "scriptTask" not in response.get_data(as_text=True)
    assert api.bearer("agent1").get(url).status_code == 403
    for who in ("owner1", "auditor1", "manager1"):
        assert "<bpmn:definitions" in api.as_(who).get(url).get_json()["bpmn_xml"], who


def test_the_cli_deploys_as_a_named_user_only_if_they_may_deploy(cli):
    bpmn = str(DEFAULT_PROCESSES_DIR / "complaint_handling.bpmn")
    refused = cli.run("deploy", bpmn, "--as", "agent1")
    assert refused.returncode == 4 and "deploying processes is for the roles owner" in refused.stderr
    assert "deployed" not in refused.stdout
    assert cli.run("deploy", bpmn, "--as", "owner1").returncode == 0
    assert cli.run("deploy", bpmn).returncode == 0, "the local operator (system) deploys as before"


def test_only_supervisors_and_owners_cancel_an_instance(runtime, desk_task):
    instance_id = desk_task["instance_id"]
    for refused in ("agent3", "auditor1", "qc1"):
        with pytest.raises(NotAllowed, match="cancelling an instance is for the roles owner, supervisor"):
            runtime.cancel(instance_id, refused, "重复登记")
    assert runtime.show(instance_id)["status"] == "running"
    runtime.cancel(instance_id, "supervisor1", "重复登记")
    assert runtime.show(instance_id)["status"] == "cancelled"


def test_the_cli_cancels_as_a_named_user_only_if_they_may(cli, runtime, desk_task):
    instance_id = desk_task["instance_id"]
    refused = cli.run("cancel", str(instance_id), "--as", "agent1", "--reason", "重复登记")
    assert refused.returncode == 4 and "cancelling an instance is for the roles" in refused.stderr
    assert cli.run("cancel", str(instance_id), "--as", "owner1", "--reason", "重复登记").returncode == 0
