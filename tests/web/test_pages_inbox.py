"""The inbox page: my lanes' tasks, filters, counts, due badges, masked phones, pagination."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from engine.clock import frozen_at, utcnow
from tests.support.complaint import COMPLAINT, MONDAY_10
from tests.support.world import REPO, deploy


def start(rt, actor="agent1", data=None) -> int:
    return rt.start("complaint_handling", actor=actor, data=data)


def to_guide(rt, **overrides) -> int:
    """A complaint received during the tour: waiting for the guide (lane guide)."""
    iid = start(rt)
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], "agent1", {**COMPLAINT, **overrides})
    return iid


def rows(response) -> list[str]:
    """The inbox's table rows (one string of HTML per task)."""
    page = response.get_data(as_text=True)
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return [html.unescape(r) for r in re.findall(r"<tr(?: class=\"[^\"]*\")?>(.*?)</tr>", body, re.S)
            if 'class="empty"' not in r and "colspan" not in r]


def task_ids(response) -> list[int]:
    return [int(m) for r in rows(response) for m in re.findall(r'href="/tasks/(\d+)"', r)]


def test_inbox_requires_login(client_for):
    response = client_for(None).get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_inbox_row_shows_process_step_customer_masked_phone_tour_age_due_and_assignee(runtime, client_for):
    iid = to_guide(runtime)
    [task] = runtime.tasks(instance_id=iid)
    response = client_for("guide1").get("/")
    assert response.status_code == 200
    [row] = rows(response)
    assert "游客投诉处理流程" in row and f'href="/instances/{iid}"' in row
    assert f'<a class="step-link" href="/tasks/{task["id"]}">在当地解决</a>' in row
    assert "张建国" in row and "SH-2026-1118" in row
    assert "138****4567" in row and "13801234567" not in response.get_data(as_text=True), "phones are masked"
    assert "刚刚" in row and "未认领" in row and "导游" in row
    assert 'class="badge due-ok"' in row and "未到期" in row, "every step has a due date (laneDueIn guide=PT4H)"


def test_age_reads_minutes_hours_days(runtime, client_for):
    now = utcnow()
    for hours in (0.05, 3, 50):
        with frozen_at(now - timedelta(hours=hours)):
            start(runtime)
    page = "".join(rows(client_for("agent1").get("/?sort=age")))
    assert "2 天" in page and "3 小时" in page and "3 分钟" in page


def test_only_my_lanes_and_the_auditor_sees_all(runtime, client_for):
    start(runtime)
    to_guide(runtime)
    agent_rows = rows(client_for("agent1").get("/"))
    assert len(agent_rows) == 1 and "受理投诉并上报质检培训部" in agent_rows[0]
    guide_rows = rows(client_for("guide1").get("/"))  # guides hold lane staff too
    assert len(guide_rows) == 2 and any("在当地解决" in r for r in guide_rows)
    [guide_only] = rows(client_for("guide1").get("/?lane=guide"))
    assert "在当地解决" in guide_only
    assert rows(client_for("qc1").get("/")) == []
    auditor = client_for("auditor1").get("/")
    assert len(rows(auditor)) == 2 and "审计视图" in auditor.get_data(as_text=True)


def test_lane_filter_and_counts_per_lane(runtime, client_for):
    start(runtime)
    start(runtime)
    to_guide(runtime)
    auditor = client_for("auditor1")
    page = auditor.get("/").get_data(as_text=True)
    assert re.search(r"各部门工作人员 <span class=\"chip-n\">2</span>", page)
    assert re.search(r"导游 <span class=\"chip-n\">1</span>", page)
    assert [("在当地解决" in r) for r in rows(auditor.get("/?lane=guide"))] == [True]
    assert len(rows(auditor.get("/?lane=staff"))) == 2
    assert rows(auditor.get("/?lane=qc")) == []


def test_process_filter(runtime, client_for):
    deploy(runtime, REPO / "tests" / "fixtures" / "bpmn" / "minimal_ok.bpmn")
    runtime.start("minimal_ok")
    start(runtime)
    agent = client_for("agent1")
    assert len(rows(agent.get("/"))) == 2
    [row] = rows(agent.get("/?process=minimal_ok"))
    assert "填写需求" in row and "最小流程" in row
    [row] = rows(agent.get("/?process=complaint_handling"))
    assert "受理投诉并上报质检培训部" in row
    assert '<option value="minimal_ok"' in agent.get("/").get_data(as_text=True)


def test_desk_filter(runtime, client_for):
    start(runtime, data={"desk": "邮轮"})
    start(runtime, data={"desk": "旅游"})
    start(runtime)
    sales = client_for("sales1")  # no desk of their own: sees every desk and can filter
    assert len(rows(sales.get("/"))) == 3
    assert len(rows(sales.get("/?desk=邮轮"))) == 1
    assert '<option value="旅游"' in sales.get("/").get_data(as_text=True)
    cruise_agent = client_for("agent1")  # the cruise desk: its own desk's tasks and desk-less ones
    assert len(rows(cruise_agent.get("/"))) == 2
    assert rows(cruise_agent.get("/?desk=旅游")) == []


def test_overdue_and_due_soon_badges_and_filter(runtime, client_for):
    now = MONDAY_10 + timedelta(hours=5)  # Monday 15:00 China time: each 1-hour rule below runs in working hours
    with frozen_at(now - timedelta(hours=2)):  # due an hour ago
        late = start(runtime)
    with frozen_at(now - timedelta(minutes=45)):  # due in 15 minutes
        soon = start(runtime)
    with frozen_at(now):
        fine = start(runtime)  # due in an hour
        agent = client_for("agent1")
        response = agent.get("/")
        by_instance = {int(re.search(r'href="/instances/(\d+)"', r).group(1)): r for r in rows(response)}
        assert list(by_instance) == [late, soon, fine], "sorted by due date"
        assert "due-overdue" in by_instance[late] and "已超期" in by_instance[late]
        assert "due-due_soon" in by_instance[soon] and "即将到期" in by_instance[soon]
        assert "due-ok" in by_instance[fine]
        due_local = (now - timedelta(hours=1) + timedelta(hours=8)).strftime("%m-%d %H:%M")
        assert due_local in by_instance[late], "the due time in Shanghai time"
        page = response.get_data(as_text=True)
        assert re.search(r'<span class="stat-n">1</span><span class="stat-l">已超期</span>', page)
        [row] = rows(agent.get("/?overdue=1"))
        assert f'href="/instances/{late}"' in row


def test_mine_and_unclaimed_filters(runtime, client_for):
    ids = [start(runtime) for _ in range(3)]
    tasks = {t["instance_id"]: t for t in runtime.tasks()}
    runtime.claim(tasks[ids[0]]["id"], "agent1")
    runtime.claim(tasks[ids[1]]["id"], "receptionist1")
    agent = client_for("agent1")
    assert sorted(task_ids(agent.get("/"))) == sorted([tasks[ids[0]]["id"], tasks[ids[2]]["id"]]), \
        "tasks claimed by colleagues are not in my inbox"
    [mine] = rows(agent.get("/?who=mine"))
    assert f'/tasks/{tasks[ids[0]]["id"]}"' in mine and '<span class="assignee me">agent1</span>' in mine
    assert task_ids(agent.get("/?who=unclaimed")) == [tasks[ids[2]]["id"]]
    page = agent.get("/").get_data(as_text=True)
    assert re.search(r'<span class="stat-n">1</span><span class="stat-l">我认领的</span>', page)


def test_pagination(runtime, client_for):
    for _ in range(30):
        start(runtime)
    agent = client_for("agent1")
    first = agent.get("/?per_page=10")
    page = first.get_data(as_text=True)
    assert len(rows(first)) == 10
    assert "共 30 条" in page and "第 1/3 页" in page
    assert 'href="/?per_page=10&amp;page=2"' in page and 'href="/?per_page=10&amp;page=3"' in page
    seen = [task_ids(agent.get(f"/?per_page=10&page={n}")) for n in (1, 2, 3)]
    assert [len(s) for s in seen] == [10, 10, 10]
    assert len({i for s in seen for i in s}) == 30, "pages do not overlap"
    assert "第 3/3 页" in agent.get("/?per_page=10&page=3").get_data(as_text=True)
    assert len(rows(agent.get("/"))) == 25, "25 per page by default"
    assert rows(agent.get("/?per_page=10&page=99")) == []
    assert agent.get("/?page=abc&per_page=-3").status_code == 200, "bad numbers fall back"


def test_sort_by_age(runtime, client_for):
    now = utcnow()
    with frozen_at(now - timedelta(minutes=10)):
        older = start(runtime)
    with frozen_at(now - timedelta(minutes=50)):
        oldest = start(runtime)  # due first, too
    newest = start(runtime)
    agent = client_for("agent1")
    by_age = [int(re.search(r'href="/instances/(\d+)"', r).group(1)) for r in rows(agent.get("/?sort=age"))]
    assert by_age == [oldest, older, newest]


def test_filters_keep_their_values_in_the_form(runtime, client_for):
    page = client_for("auditor1").get("/?lane=guide&who=unclaimed&overdue=1&sort=age").get_data(as_text=True)
    assert '<option value="guide" selected>' in page
    assert '<option value="unclaimed" selected>' in page
    assert '<option value="age" selected>' in page
    assert 'name="overdue" value="1" checked' in page
