"""The auditor's workspace in a real browser: a complaint taken in, reassigned and solved on the
spot (through the `tourflow` CLI on the live server's database); the auditor opens its audit
trail from the instance page, steps through the replay with the buttons and the slider, and the
diagram marks at each step what was done, active and waiting; then the tamper check, and the
search. Screenshots at a few steps."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.browser import login, shot
from tests.support.complaint import COMPLAINT

pytestmark = pytest.mark.browser
pytest.importorskip("engine.history.replay", reason="engine.history.replay not available")

DIAGRAM = "#replay-diagram"


def _open_task(server, instance_id: int, task: str) -> int:
    found = [t for t in server.cli_json("tasks", "--instance", str(instance_id)) if t["task"] == task]
    assert found, f"{task} is not open in instance {instance_id}"
    return found[0]["id"]


def solved_complaint(server, customer: str) -> int:
    instance_id = int(server.cli("start", "complaint_handling", "--as", "agent1").strip())
    server.cli("complete", str(_open_task(server, instance_id, "receive_complaint")), "--as", "agent1",
               "--data", json.dumps({**COMPLAINT, "customer_name": customer, "contact_phone": "13912348765"},
                                    ensure_ascii=False))
    server.cli("complete", str(_open_task(server, instance_id, "resolve_locally")), "--as", "guide1",
               "--data", json.dumps({"resolved_locally": True, "local_action": "当晚为游客更换同级别房间"},
                                    ensure_ascii=False))
    server.cli("complete", str(_open_task(server, instance_id, "file_local_resolution")), "--as", "guide1",
               "--data", json.dumps({"filing_note": "空调故障，当地换房解决"}, ensure_ascii=False))
    assert server.cli_json("show", str(instance_id))["status"] == "completed"
    return instance_id


def marked(page, kind: str) -> list[str]:
    return sorted(page.locator(f"{DIAGRAM} .djs-element.tf-{kind}").evaluate_all(
        "els => els.map(e => e.getAttribute('data-element-id'))"))


def at_step(page, seq: int) -> None:
    expect(page.locator(f"{DIAGRAM}[data-replay-seq='{seq}']")).to_have_count(1)
    expect(page.locator("#replay")).to_have_attribute("data-seq", str(seq))


def test_auditor_steps_through_a_replayed_complaint(pages, live_server, screenshots):
    customer = f"重放测试{uuid.uuid4().hex[:6]}"
    masked = customer[0] + "*" * (len(customer) - 1)
    instance_id = solved_complaint(live_server, customer)
    events = live_server.cli_json("events", str(instance_id))
    seq_of = {}
    for event in events:  # the first event of each kind and task
        seq_of.setdefault((event["kind"], event["payload"].get("task")), event["seq"])

    page = pages.new()
    login(page, "auditor1")
    page.goto(f"/instances/{instance_id}")
    page.get_by_role("link", name="审计记录").click()
    expect(page).to_have_url(re.compile(rf"/instances/{instance_id}/audit$"))
    expect(page.locator("#chain-verdict")).to_contain_text("哈希链完整")
    expect(page.locator("#replay[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#replay-verdict")).to_have_text("重放结果与存储状态一致")
    expect(page.locator(f"{DIAGRAM}[data-state=ready]")).to_have_count(1, timeout=20_000)

    # Step 1: the instance has just started; nothing is done yet.
    at_step(page, 1)
    expect(page.locator("#replay-position")).to_have_text(f"第 1/{len(events)} 步")
    expect(page.get_by_role("button", name="‹ 上一步")).to_be_disabled()
    assert marked(page, "completed") == [] and marked(page, "active") == []

    # Next, next: the intake task is ready and marked active.
    ready = seq_of[("task_ready", "receive_complaint")]
    while int(page.locator("#replay").get_attribute("data-seq")) < ready:
        page.get_by_role("button", name="下一步 ›").click()
    at_step(page, ready)
    assert marked(page, "active") == ["receive_complaint"]
    expect(page.locator("#replay-step")).to_contain_text("任务就绪")
    expect(page.locator(f"#event-{ready}")).to_have_class(re.compile(r"\bcurrent\b"))
    shot(page, screenshots, "30-audit-replay-intake-active")

    # The agent's form (after the start's state_written): done, its data now known, changed keys highlighted.
    completed = seq_of[("task_completed", "receive_complaint")]
    assert [e["kind"] for e in events if ready < e["seq"] < completed] == ["state_written"]
    while int(page.locator("#replay").get_attribute("data-seq")) < completed:
        page.get_by_role("button", name="下一步 ›").click()
    at_step(page, completed)
    assert "receive_complaint" in marked(page, "completed")
    row = page.locator("#replay-data .data-row[data-key=customer_name]")
    expect(row).to_contain_text(masked)  # auditors read names masked (docs/privacy.md)
    expect(row).not_to_contain_text(customer)
    expect(row).to_have_class(re.compile(r"\bchanged\b"))
    expect(row).to_contain_text("本步变更")
    expect(page.locator("#replay-data .data-row[data-key=customer_name] dt")).to_have_text("游客姓名")

    # The slider jumps to the guide's step: intake done, the local resolution active.
    guide_ready = seq_of[("task_ready", "resolve_locally")]
    slider = page.locator("#replay-slider")
    slider.focus()
    slider.press("Home")
    for _ in range(guide_ready - 1):  # one step per event: step n is seq n
        slider.press("ArrowRight")
    at_step(page, guide_ready)
    assert "receive_complaint" in marked(page, "completed") and marked(page, "active") == ["resolve_locally"]
    expect(page.locator("#replay-data .data-row[data-key=complaint_at] dd")).to_have_text("2026-11-20 09:30")
    shot(page, screenshots, "31-audit-replay-guide-active")
    page.locator("#replay").screenshot(path=str(screenshots / "31b-audit-replay-card.png"))

    # A row of the trail moves the replay to its event; the last step shows the whole path done.
    page.locator(f"#event-{events[-1]['seq']} [data-goto]").click()
    at_step(page, events[-1]["seq"])
    expect(page.get_by_role("button", name="下一步 ›")).to_be_disabled()
    done = marked(page, "completed")
    assert {"receive_complaint", "resolve_locally", "file_local_resolution"} <= set(done)
    assert marked(page, "active") == [] and marked(page, "waiting") == []
    expect(page.locator("[data-count-for=completed]")).to_have_text(str(len(done)))
    shot(page, screenshots, "32-audit-replay-last-step")

    # The trail itself: who, what, the data and the diff, every event verified.
    intake = page.locator(f"#event-{completed}")
    expect(intake).to_contain_text("agent1")
    expect(intake.locator("table.diff")).to_contain_text(masked)
    expect(page.locator(".audit-row[data-chain=ok]")).to_have_count(len(events))
    page.evaluate("window.scrollTo(0, document.querySelector('.audit-table').getBoundingClientRect().top"
                  " + window.scrollY - 60)")
    page.screenshot(path=str(screenshots / "33-audit-trail-table.png"))

    # The tamper check and the search.
    page.get_by_role("link", name="防篡改校验").click()
    expect(page.locator(f"#all-chains tr[data-stream='instance:{instance_id}']")).to_contain_text("完整")
    shot(page, screenshots, "34-audit-chains")
    page.get_by_role("link", name="查询").click()
    page.locator("input[name=customer]").fill("8765")
    page.locator("input[name=actor]").fill("guide1")
    page.get_by_role("button", name="查询").click()
    hit = page.locator("tbody tr").filter(has_text=f"#{instance_id}")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("139****8765")
    expect(hit).to_contain_text(masked)
    shot(page, screenshots, "35-search")
    hit.get_by_role("link", name=f"#{instance_id}").click()
    expect(page).to_have_url(re.compile(rf"/instances/{instance_id}/audit$"))
    assert pages.problems == []


def test_replay_in_english(pages, live_server, screenshots):
    instance_id = solved_complaint(live_server, f"英文重放{uuid.uuid4().hex[:6]}")
    page = pages.new()
    page.goto("/login")
    page.get_by_role("link", name="English").click()
    login(page, "auditor1")
    page.goto(f"/instances/{instance_id}/audit")
    expect(page.locator("#replay[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#replay-verdict")).to_have_text("The replay ends in exactly the stored state")
    expect(page.locator("#replay-position")).to_contain_text("Step 1/")
    page.get_by_role("button", name="Last step").click()
    expect(page.locator(f"{DIAGRAM}[data-state=ready]")).to_have_count(1, timeout=20_000)
    expect(page.locator(".replay-legend")).to_contain_text("Waiting")
    shot(page, screenshots, "36-audit-replay-english")
    assert pages.problems == []


def test_a_record_tampered_in_the_database_shows_where(pages, live_server, screenshots):
    """Someone with database access drops the append-only triggers and edits the agent's form data.
    (The live server's database keeps this broken chain, of this test's own instance, for the session.)"""
    instance_id = solved_complaint(live_server, f"篡改测试{uuid.uuid4().hex[:6]}")
    completed = next(e["seq"] for e in live_server.cli_json("events", str(instance_id)) if e["kind"] == "task_completed")
    with sqlite3.connect(live_server.home / "tourflow.db") as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        conn.execute("UPDATE audit_event SET payload = replace(payload, '住宿餐饮', '交通') WHERE stream = ? AND seq = ?",
                     (f"instance:{instance_id}", completed))
    page = pages.new()
    login(page, "auditor1")
    page.get_by_role("link", name="防篡改校验").click()
    row = page.locator(f"#broken-chains tr[data-stream='instance:{instance_id}']")
    expect(row).to_contain_text(f"断裂于第 {completed} 条")
    expect(row).to_contain_text(f"第 {completed} 条事件的内容与其哈希不符：记录被改动")
    shot(page, screenshots, "37-audit-chains-broken")

    row.get_by_role("link", name=f"实例 #{instance_id}").click()
    expect(page.locator("#chain-verdict")).to_contain_text("哈希链断裂")
    expect(page.locator(f"#event-{completed}")).to_have_attribute("data-chain", "broken")
    expect(page.locator(f"#event-{completed + 1}")).to_have_attribute("data-chain", "after_break")
    expect(page.locator(f"#event-{completed - 1}")).to_have_attribute("data-chain", "ok")
    expect(page.locator("#replay[data-state]")).not_to_have_attribute("data-state", "loading", timeout=20_000)
    shot(page, screenshots, "38-audit-trail-broken")
    with pytest.raises(AssertionError, match=rf"BROKEN: instance {instance_id} at seq {completed}: event content "
                                             r"does not match its hash \(altered\)"):
        live_server.cli("audit", "verify", str(instance_id))  # the CLI names the same place
    assert pages.problems == []
