"""Escape and exhaustion attempts, each through deploy, start, complete, replay and heatmap.

A process file is untrusted input. Every attempt below is either refused at deploy with the
place and the reason (and refused again by the sandbox if it ever ran), or deploys and is
contained when it runs: the step ends as an incident that says why, nothing reaches the
operating system, and replay and the heatmap (which run the same code again) stay contained.
The probe process is tests/fixtures/bpmn/minimal_ok.bpmn with the attempt put into one slot:
the pre-script of its first user task (runs at start), its script task or its gateway
condition (both run when that task is completed).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from engine.errors import DeploymentError, ScriptError
from engine.history.heatmap import heatmap
from engine.history.replay import replay
from engine.run.runtime import Runtime
from engine.sandbox.scripts import SandboxedEnvironment

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
FORMS = FIXTURES / "forms" / "minimal_ok"
SLOTS = {
    "condition": ("budget &gt; 1000</bpmn:conditionExpression>", "{}</bpmn:conditionExpression>"),
    "script": ("<bpmn:script>needs_review = True</bpmn:script>", "<bpmn:script>{}</bpmn:script>"),
    "pre": ('<spiffworkflow:property name="formJsonSchemaFilename" value="fill_request.schema.json" />\n'
            "        </spiffworkflow:properties>",
            '<spiffworkflow:property name="formJsonSchemaFilename" value="fill_request.schema.json" />\n'
            "        </spiffworkflow:properties>\n        <spiffworkflow:preScript>{}</spiffworkflow:preScript>"),
}
REQUEST = {"customer_name": "张建国", "travel_date": "2026-12-20", "budget": 5000}
MARK = "/tmp/tourflow-sandbox-escaped"

# (slot, code, what deploy says) for attempts refused at deploy.
REFUSED = [
    ("condition", f"datetime.sys.modules['os'].system('touch {MARK}')", "attribute 'sys' is not allowed"),
    ("condition", "'{0.__globals__[os]}'.format(budget)", "attribute 'format' is not allowed"),
    ("condition", "'{x.__class__}'.format_map({'x': budget})", "attribute 'format_map' is not allowed"),
    ("condition", "().__class__.__bases__[0].__subclasses__()", "attribute '__class__' is not allowed"),
    ("condition", f"__import__('os').system('touch {MARK}')", "name '__import__' is not allowed"),
    ("condition", "getattr(budget, '__class__')", "name 'getattr' is not allowed"),
    ("condition", "type(budget).__subclasses__()", "name 'type' is not allowed"),
    ("condition", "(lambda: 1)() == 1", "lambda is not allowed"),
    ("condition", "vars()['budget'] > 1", "name 'vars' is not allowed"),
    ("condition", "f'{budget.__class__}' != ''", "attribute '__class__' is not allowed"),
    ("condition", "(x for x in [1]).gi_frame.f_globals", "attribute 'gi_frame' is not allowed"),
    ("condition", "open('/etc/passwd').read() != ''", "name 'open' is not allowed"),
    ("condition", "eval('1') == 1", "name 'eval' is not allowed"),
    ("condition", "exec('import os') is None", "name 'exec' is not allowed"),
    ("condition", "compile('1', 'f', 'eval') is None", "name 'compile' is not allowed"),
    ("condition", "globals()['__builtins__'] is None", "name 'globals' is not allowed"),
    ("condition", "'x'.encode('rot13') == b''", "attribute 'encode' is not allowed"),
    ("condition", "b'\\x00'.decode('utf-16') == ''", "attribute 'decode' is not allowed"),
    ("condition", "budget.upper.__self__ is None", "attribute '__self__' is not allowed"),
    ("condition", "{}.get.__self__ is None", "attribute '__self__' is not allowed"),
    ("condition", "\uff45\uff56\uff41\uff4c('1') == 1", "name 'eval' is not allowed"),  # fullwidth ｅｖａｌ
    ("condition", "__builtins__['open'] is None", "name '__builtins__' is not allowed"),
    ("condition", "(x := 1) == 1", "':=' is not allowed"),
    ("condition", "dir(budget) == []", "name 'dir' is not allowed"),
    ("script", "import os\nos.system('id')", "import is not allowed"),
    ("script", "from os import system", "import is not allowed"),
    ("script", "def f(n):\n    return f(n + 1)\nx = f(0)", "function definitions are not allowed"),
    ("script", "class A:\n    pass", "class definitions are not allowed"),
    ("script", "while True:\n    pass", "while loops are not allowed"),
    ("script", "try:\n    x = 1\nexcept Exception:\n    pass", "try/except is not allowed"),
    ("script", "with open('/etc/passwd') as f:\n    x = 1", "with is not allowed"),
    ("script", "global budget\nbudget = 1", "global is not allowed"),
    ("script", "x = [budget]\nx.append.__self__.clear()", "attribute '__self__' is not allowed"),
    ("script", "_secret = 1", "name '_secret' is not allowed"),
    ("script", "breakpoint()", "name 'breakpoint' is not allowed"),
    ("script", "raise SystemExit(1)", "raise is not allowed"),
    ("script", "setattr(budget, 'real', 1)", "name 'setattr' is not allowed"),
    ("script", "x = {}\nx.update.__func__ = 1", "setting an attribute"),
    ("pre", "import subprocess", "import is not allowed"),
    ("pre", "x = memoryview(b'a')", "name 'memoryview' is not allowed"),
    ("pre", "x = super()", "name 'super' is not allowed"),
    ("pre", "async def f():\n    pass", "async code is not allowed"),
]

# (slot, code, what the incident says) for attempts that deploy and are contained when they run.
CONTAINED = [
    ("script", "x = str.join('', ['a'])", "attribute 'join' of a type is not available"),
    ("script", "x = 'a' * 10 ** 10", "repeating a sequence to more than 1,000,000 items"),
    ("script", "x = [0] * 10 ** 9", "repeating a sequence to more than 1,000,000 items"),
    ("script", "x = 10 ** 10 ** 10", "a power with more than 10,000 digits"),
    ("script", "x = 1 << 10 ** 9", "a shift by more than"),
    ("script", "for i in range(10 ** 12):\n    pass", "range() of more than 1,000,000 numbers"),
    ("script", "x = 'ab'\nfor i in range(64):\n    x = x + x", "budget"),
    ("script", "x = [[0] * 1000000 for i in range(1000)]", "ran out of its memory budget"),
    ("script", "n = 0\nfor i in range(1000000):\n    for j in range(1000000):\n        n += 1",
     "budget and was stopped"),
    ("script", "x = int('9' * 5000)", "ValueError"),
    ("script", "x = {'a': 1}\nx['self'] = x", "Circular reference"),
    ("script", "x = sorted(range(10), key=len)", "TypeError"),
    ("condition", "sum(range(10 ** 12)) > 0", "range() of more than 1,000,000 numbers"),
    ("condition", "max(list(range(600000)) * 2) > 0", "repeating a sequence"),
    ("condition", "len(str(7 ** 99999)) > 0", "a power with more than 10,000 digits"),
    ("pre", "x = str.upper('a')", "attribute 'upper' of a type is not available"),
    ("pre", "x = [c for c in range(1000000) for d in range(1000000)]", "budget"),
    ("pre", "x = no_such_name", "NameError"),
]


def probe_bytes(slot: str, code: str) -> bytes:
    old, new = SLOTS[slot]
    text = (FIXTURES / "minimal_ok.bpmn").read_text(encoding="utf-8")
    assert text.count(old) == 1
    return text.replace(old, new.format(escape(code))).encode("utf-8")


def deploy_probe(rt: Runtime, slot: str, code: str) -> None:
    from engine.run.deployments import deploy_bytes

    with rt.db.write() as session, session.begin():
        deploy_bytes(session, probe_bytes(slot, code), "minimal_ok.bpmn", FORMS, "owner1")


@pytest.fixture(autouse=True)
def no_escape_mark():
    Path(MARK).unlink(missing_ok=True)
    yield
    assert not os.path.exists(MARK), "a script reached the operating system"


@pytest.fixture
def quick_budget(monkeypatch):
    monkeypatch.setenv("TOURFLOW_SCRIPT_TIMEOUT", "0.5")
    monkeypatch.setenv("TOURFLOW_SCRIPT_MEMORY_MB", "128")


def test_the_table_has_at_least_thirty_attempts():
    assert len(REFUSED) + len(CONTAINED) >= 30
    assert len({code for _, code, _ in REFUSED + CONTAINED}) == len(REFUSED) + len(CONTAINED)


@pytest.mark.parametrize("slot, code, message", REFUSED, ids=[f"{i}-{s}" for i, (s, _, _) in enumerate(REFUSED)])
def test_refused_at_deploy_with_the_place_and_the_reason_and_by_the_sandbox_too(runtime, slot, code, message):
    with pytest.raises(DeploymentError) as refused:
        deploy_probe(runtime, slot, code)
    findings = [f for f in refused.value.findings if f.severity == "error"]
    assert findings and all(f.rule in ("unsafe-script", "script-syntax") for f in findings)
    assert any(message in f.message for f in findings), [str(f) for f in findings]
    assert all(f.file == "minimal_ok.bpmn" and f.line > 1 for f in findings)
    # A file that never went through lint is refused the same way when it runs.
    mode = "eval" if slot == "condition" else "exec"
    env = SandboxedEnvironment()
    with pytest.raises(ScriptError, match="unsafe expression|not allowed"):
        env.evaluate(code, {"budget": 5000}) if mode == "eval" else env.execute(code, {"budget": 5000})


def _incident(rt: Runtime, instance_id: int) -> str:
    shown = rt.show(instance_id)
    assert shown["status"] == "error", shown
    [raised] = [e for e in rt.events(instance_id) if e["kind"] == "incident_raised"]
    assert raised["payload"]["error"] == shown["error"]
    return shown["error"]


@pytest.mark.parametrize("slot, code, message", CONTAINED,
                         ids=[f"{i}-{s}" for i, (s, _, _) in enumerate(CONTAINED)])
def test_contained_when_it_runs_as_an_incident_and_again_in_replay_and_heatmap(runtime, quick_budget, slot, code,
                                                                               message):
    rt = runtime
    deploy_probe(rt, slot, code)
    instance_id = rt.start("minimal_ok", {})
    if slot != "pre":
        [task] = rt.tasks(instance_id=instance_id)
        rt.complete(task["id"], "agent1", REQUEST)
    error = _incident(rt, instance_id)
    assert message in error, error
    # Replay runs the same code in the same sandbox: contained again, and identical to the record.
    result = replay(rt, instance_id)
    assert result.identical, result.difference
    assert heatmap(rt, "minimal_ok", 1)["instances"] == 1


@pytest.mark.both_databases  # the lock differs: SQLite's database lock, PostgreSQL's row locks
def test_other_users_claim_and_complete_while_a_runaway_script_runs(runtime, monkeypatch):
    """The runaway script never holds the write lock: the step lets go of it after a short grace,
    so another instance's claim and completion commit while the script still runs."""
    rt = runtime
    monkeypatch.setenv("TOURFLOW_SCRIPT_TIMEOUT", "6")
    deploy_probe(rt, "condition", "budget > 1000 and sum(1 for c in range(1000000) for d in range(1000000)) > 0")
    stuck = rt.start("minimal_ok", {})
    other = rt.start("minimal_ok", {})
    [stuck_task] = rt.tasks(instance_id=stuck)
    [other_task] = rt.tasks(instance_id=other)
    outcome: dict[str, object] = {}

    def complete_stuck() -> None:
        try:
            outcome["result"] = rt.complete(stuck_task["id"], "agent1", REQUEST)
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            outcome["error"] = exc

    runner = threading.Thread(target=complete_stuck)
    runner.start()
    time.sleep(1.0)  # the script has started and outlived the grace
    rt.claim(other_task["id"], "agent2")
    rt.unclaim(other_task["id"], "agent2")
    rt.complete(other_task["id"], "agent1", {**REQUEST, "budget": 10})
    assert runner.is_alive(), f"the runaway script should still be running, outside the lock: {outcome}"
    assert rt.show(other)["status"] != "error"
    runner.join(timeout=30)
    assert "error" not in outcome, outcome
    error = _incident(rt, stuck)
    assert "ran longer than its 6 s budget and was stopped" in error
    kinds = [e["kind"] for e in rt.events(stuck)]
    assert kinds.count("task_completed") == 1  # the step ran again from scratch, once in effect
