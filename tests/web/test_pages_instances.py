"""Instance pages: who may see an instance, its data, tasks, timeline and diagram; the list."""

from __future__ import annotations

import html
import re

from tests.support.complaint import COMPLAINT


def start(rt, actor="agent1") -> int:
    return rt.start("complaint_handling", actor=actor)


def to_guide(rt, actor="agent1") -> int:
    iid = start(rt, actor)
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], actor, COMPLAINT)
    return iid


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def listed(response) -> list[int]:
    page = response.get_data(as_text=True)
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return sorted({int(i) for i in re.findall(r'href="/instances/(\d+)"', body)})


def test_instance_page_shows_status_data_tasks_events_and_the_diagram(runtime, client_for):
    iid = to_guide(runtime)
    response = client_for("agent1").get(f"/instances/{iid}")
    assert response.status_code == 200
    page = text(response)
    assert '<span class="badge status-running">进行中</span>' in page
    assert "游客投诉处理流程" in page and "complaint_handling</code> v1" in page
    assert "发起人：agent1" in page
    data = page[page.index('<dl class="data-list">'):]
    assert re.search(r"<dt[^>]*>游客姓名</dt><dd>张建国</dd>", data)
    assert re.search(r"<dt[^>]*>已投诉至上级部门</dt><dd>否</dd>", data)
    tasks = page[page.index("<h2 class=\"card-pad\">任务</h2>"):page.index("事件记录")]
    assert "受理投诉并上报质检培训部" in tasks and "在当地解决" in tasks and "已完成" in tasks and "待办" in tasks
    timeline = page[page.index('<ol class="timeline">'):]
    for label in ("流程发起", "任务就绪", "完成任务"):
        assert label in timeline
    completed = timeline[timeline.index("ev-task_completed"):]
    completed = completed[:completed.index("</li>")]
    assert "受理投诉并上报质检培训部" in completed and "agent1" in completed
    assert re.search(r"<dt>投诉类别</dt><dd>住宿餐饮</dd>", completed), "the submitted data, labelled"
    assert re.search(r'<td>投诉类别</td><td class="old">—</td><td class="new">住宿餐饮</td>', completed), "the diff"
    raw = response.get_data(as_text=True)
    diagram = (f'<div id="diagram" class="diagram" data-diagram-url="/api/v1/instances/{iid}/diagram"></div>\n'
               '<link rel="stylesheet" href="/static/diagram.css">\n'
               '<script src="/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"></script>\n'
               '<script src="/static/js/diagram.js"></script>')
    assert diagram in raw


def test_timeline_shows_reassign_and_cancel_reasons(runtime, client_for):
    iid = start(runtime)
    [task] = runtime.tasks(instance_id=iid)
    runtime.reassign(task["id"], "agent1", "receptionist1", "客人在前台等候")
    runtime.cancel(iid, "supervisor1", "客人撤回投诉")
    page = text(client_for("agent1").get(f"/instances/{iid}"))
    assert "转派任务" in page
    assert "受理投诉并上报质检培训部：无 → receptionist1；原因：客人在前台等候" in page
    assert "流程取消" in page and "原因：客人撤回投诉" in page
    assert '<span class="badge status-cancelled">已取消</span>' in page


def test_instance_page_access(runtime, client_for):
    iid = to_guide(runtime)
    assert client_for("guide1").get(f"/instances/{iid}").status_code == 200, "a task in my lane"
    assert client_for("auditor1").get(f"/instances/{iid}").status_code == 200
    assert client_for("qc1").get(f"/instances/{iid}").status_code == 403, "no task of mine: no customer data"
    assert "张建国" not in client_for("qc1").get(f"/instances/{iid}").get_data(as_text=True)
    assert client_for("agent1").get("/instances/99999").status_code == 404
    response = client_for(None).get(f"/instances/{iid}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_task_links_only_for_lanes_i_may_open(runtime, client_for):
    iid = to_guide(runtime)
    tasks = {t["task"]: t for t in runtime.tasks(instance_id=iid)}
    page = client_for("agent1").get(f"/instances/{iid}").get_data(as_text=True)
    assert f'href="/tasks/{tasks["resolve_locally"]["id"]}"' not in page, "agent1 does not hold lane guide"
    page = client_for("guide1").get(f"/instances/{iid}").get_data(as_text=True)
    assert f'href="/tasks/{tasks["resolve_locally"]["id"]}"' in page


def test_instances_list_shows_what_each_user_may_see(runtime, client_for):
    mine = start(runtime, "agent1")
    at_guide = to_guide(runtime, "receptionist1")
    assert listed(client_for("agent1").get("/instances")) == sorted([mine, at_guide]), \
        "started by me, or a task in my lane (staff)"
    assert listed(client_for("qc1").get("/instances")) == []
    assert listed(client_for("auditor1").get("/instances")) == sorted([mine, at_guide])
    assert listed(client_for("supervisor1").get("/instances")) == sorted([mine, at_guide]), \
        "supervisors see every instance, to recover any task (docs/access.md)"
    response = client_for(None).get("/instances")
    assert response.status_code == 302


def test_instances_list_filters_and_pages(runtime, client_for):
    running = [start(runtime) for _ in range(3)]
    cancelled = start(runtime)
    runtime.cancel(cancelled, "supervisor1", "重复登记")
    auditor = client_for("auditor1")
    assert listed(auditor.get("/instances?status=cancelled")) == [cancelled]
    assert listed(auditor.get("/instances?status=running")) == running
    assert listed(auditor.get("/instances?process=complaint_handling")) == sorted(running + [cancelled])
    assert listed(auditor.get("/instances?process=other")) == []
    page = auditor.get("/instances?per_page=2").get_data(as_text=True)
    assert "共 4 条" in page and "第 1/2 页" in page and "page=2" in page
    assert len(listed(auditor.get("/instances?per_page=2&page=2"))) == 2
    row = text(auditor.get("/instances"))
    assert '<span class="badge status-cancelled">已取消</span>' in row
