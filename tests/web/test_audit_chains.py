"""Tamper evidence on the web: /audit (every chain's verdict) and GET /api/v1/audit/chains, and the
break shown on the instance's trail (page and API), for a record altered, deleted or swapped
directly in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import pytest

from engine.store import audit
from tests.support.api import Api
from tests.support.complaint import COMPLAINT
from tests.support.tamper import TAMPERINGS, delete_event, forge_task_data

pytestmark = pytest.mark.both_databases

SEQ = 4  # the task_completed of the complaint's intake


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime)


def taken_in(rt, actor: str = "agent1") -> int:
    iid = rt.start("complaint_handling", actor=actor)
    [task] = rt.tasks(instance_id=iid)
    rt.complete(task["id"], actor, COMPLAINT)
    return iid


def chain_rows(page: str, section: str) -> dict[str, str]:
    """stream -> its row in the table of `section` (broken-chains or all-chains)."""
    part = page[page.index(f'id="{section}"'):]
    part = part[:part.index("</table>")]
    return {m.group(1): m.group(0) for m in re.finditer(r'<tr class="chain-row[^"]*" data-stream="([^"]+)".*?</tr>',
                                                        part, re.S)}


def test_intact_chains_page_and_api(runtime, client_for, api):
    first, second = taken_in(runtime), taken_in(runtime)
    response = client_for("auditor1").get("/audit")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "所有哈希链完整" in page and 'id="broken-chains"' not in page
    rows = chain_rows(page, "all-chains")
    assert list(rows) == ["system", f"instance:{second}", f"instance:{first}"], "system first, then newest"
    assert all("完整" in row for row in rows.values())
    assert f'href="/instances/{first}/audit"' in rows[f"instance:{first}"]

    body = api.as_("auditor1").get("/api/v1/audit/chains").get_json()
    assert (body["checked"], body["broken_count"], body["broken"]) == (3, 0, [])
    assert [(i["stream"], i["ok"]) for i in body["items"]] == [("system", True), (f"instance:{second}", True),
                                                              (f"instance:{first}", True)]
    with runtime.db.read() as session:
        assert body["events"] == sum(len(audit.events_of(session, i)) for i in (first, second)) + \
            body["items"][0]["events"]


@pytest.mark.no_replay_check
@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_each_tampering_shows_at_its_seq_on_the_pages_and_the_api(runtime, client_for, api, how):
    victim, bystander = taken_in(runtime), taken_in(runtime)
    tamper, problem = TAMPERINGS[how]
    stream = audit.instance_stream(victim)
    tamper(runtime, stream, SEQ)

    page = html.unescape(client_for("auditor1").get("/audit").get_data(as_text=True))
    broken = chain_rows(page, "broken-chains")
    assert list(broken) == [stream]
    assert f'data-broken-seq="{SEQ}"' in broken[stream] and f'data-problem="{problem}"' in broken[stream]
    assert f"断裂于第 {SEQ} 条" in broken[stream]
    words = {"payload": f"第 {SEQ} 条事件的内容与其哈希不符", "deleted": f"缺少第 {SEQ} 条事件（之后是第 {SEQ + 1} 条）",
             "swapped": f"第 {SEQ} 条事件的前序哈希与上一条不符"}[how]
    assert words in broken[stream]
    assert "完整" in chain_rows(page, "all-chains")[audit.instance_stream(bystander)]

    chains = api.as_("auditor1").get("/api/v1/audit/chains?broken=true").get_json()
    assert chains["broken_count"] == 1
    [item] = chains["items"]
    assert (item["stream"], item["ok"], item["broken"]["seq"], item["broken"]["problem"]) == (stream, False, SEQ,
                                                                                              problem)

    trail = html.unescape(client_for("auditor1").get(f"/instances/{victim}/audit").get_data(as_text=True))
    assert "哈希链断裂" in trail and words in trail
    marks = re.findall(r'<tr id="event-(\d+)" class="audit-row [^"]*" data-seq="\d+" data-kind="[^"]+" '
                       r'data-chain="([a-z_]+)"', trail)
    first_bad = next(i for i, (_, chain) in enumerate(marks) if chain != "ok")
    assert all(chain == "ok" for _, chain in marks[:first_bad])
    assert marks[first_bad][1] == "broken" and all(chain == "after_break" for _, chain in marks[first_bad + 1:])
    expected_first_bad = SEQ + 1 if how == "deleted" else SEQ  # the row found where seq 4 is missing
    assert int(marks[first_bad][0]) == expected_first_bad

    body = api.as_("auditor1").get(f"/api/v1/instances/{victim}/audit").get_json()
    assert (body["ok"], body["broken"]["seq"], body["broken"]["problem"]) == (False, SEQ, problem)
    flags = [(e["seq"], e["chain_ok"]) for e in body["events"]]
    assert [seq for seq, ok in flags if not ok][0] == expected_first_bad
    assert all(ok for seq, ok in flags if seq < SEQ) and not any(ok for seq, ok in flags if seq >= SEQ)
    intact = api.as_("auditor1").get(f"/api/v1/instances/{bystander}/audit").get_json()
    assert intact["ok"] and all(e["chain_ok"] for e in intact["events"])


@pytest.mark.no_replay_check
def test_a_missing_tail_shows_as_a_row_of_its_own(runtime, client_for):
    iid = taken_in(runtime)
    count = len(runtime.events(iid))
    delete_event(runtime, audit.instance_stream(iid), count)
    trail = html.unescape(client_for("auditor1").get(f"/instances/{iid}/audit").get_data(as_text=True))
    assert f"第 {count} 条起的事件缺失（链头记录到第 {count} 条）" in trail
    assert 'class="audit-row chain-broken missing-tail"' in trail
    assert 'id="chain-verdict" data-chain="broken"' in trail
    assert not re.search(r'data-kind="[a-z_]+" data-chain="(broken|after_break)"', trail), "every event left verifies"


def test_who_sees_the_chains(runtime, client_for, api):
    taken_in(runtime)
    for user in ("auditor1", "supervisor1", "owner1"):
        assert client_for(user).get("/audit").status_code == 200, user
        assert api.as_(user).get("/api/v1/audit/chains").status_code == 200, user
    for user in ("agent1", "qc1", "guide1"):
        assert client_for(user).get("/audit").status_code == 403, user
        refused = api.as_(user).get("/api/v1/audit/chains")
        assert (refused.status_code, refused.get_json()["error"]) == (403, "forbidden"), user
    assert api.anonymous().get("/api/v1/audit/chains").status_code == 401


def test_instance_links_only_where_the_viewer_may_open_the_trail(runtime, client_for):
    iid = taken_in(runtime)
    rows = chain_rows(client_for("owner1").get("/audit").get_data(as_text=True), "all-chains")
    assert f'href="/instances/{iid}/audit"' not in rows[f"instance:{iid}"], "the owner has no task in it"
    rows = chain_rows(client_for("auditor1").get("/audit").get_data(as_text=True), "all-chains")
    assert f'href="/instances/{iid}/audit"' in rows[f"instance:{iid}"]


def test_chains_api_pages_and_refuses_bad_filters(runtime, api):
    for _ in range(3):
        taken_in(runtime)
    auditor = api.as_("auditor1")
    body = auditor.get("/api/v1/audit/chains?per_page=2&page=2").get_json()
    assert (body["total"], body["pages"], body["page"], len(body["items"])) == (4, 2, 2, 2)
    for query, field in (("broken=maybe", "broken"), ("page=0", "page"), ("per_page=x", "per_page"),
                         ("per_page=1000", "per_page")):
        response = auditor.get(f"/api/v1/audit/chains?{query}")
        assert (response.status_code, response.get_json()["field"]) == (422, field), query


@pytest.mark.no_replay_check
def test_a_live_state_edited_around_the_engine_shows_on_the_pages_and_the_api(runtime, client_for, api):
    iid, other = taken_in(runtime), taken_in(runtime)
    seq = runtime.events(iid)[-1]["seq"]
    waiting = runtime.tasks(instance_id=iid)[0]
    forge_task_data(runtime, iid, waiting["task"], tour_id="SH-FORGED")

    body = api.as_("auditor1").get("/api/v1/audit/chains").get_json()
    [broken] = body["broken"]
    assert (broken["stream"], broken["broken"]["problem"], broken["broken"]["seq"]) == (
        f"instance:{iid}", "state_mismatch", seq)
    assert broken["state"] == {"verdict": "differs", "seq": seq,
                               "message": f"live state of instance {iid} differs from the state recorded at seq {seq}"}
    [kept] = [i for i in body["items"] if i["stream"] == f"instance:{other}"]
    assert kept["ok"] and kept["state"]["verdict"] == "ok"
    page = html.unescape(client_for("auditor1").get("/audit").get_data(as_text=True))
    assert f"状态与第 {seq} 条不符" in chain_rows(page, "broken-chains")[f"instance:{iid}"]

    trail = api.as_("auditor1").get(f"/api/v1/instances/{iid}/audit").get_json()
    assert (trail["ok"], trail["broken"]["problem"], trail["state"]["verdict"]) == (False, "state_mismatch", "differs")
    assert all(e["chain_ok"] for e in trail["events"]), "the events themselves still verify"
    timeline = html.unescape(client_for("auditor1").get(f"/instances/{iid}/audit").get_data(as_text=True))
    assert 'data-chain="state_mismatch"' in timeline and "存储状态被改动" in timeline
