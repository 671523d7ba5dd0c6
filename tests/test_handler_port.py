"""The handler port: plug-ins are found through entry points or TOURFLOW_HANDLER_MODULES, a name is
registered once, and a handler reads its instance (who started it, its key, who completed what)
through the context the engine fills in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import frozen_at
from engine.plugins.handlers import ENTRY_POINT_GROUP, HandlerContext, HandlerRegistry, handler, load_plugins
from tests.support.world import deploy

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "runtime" / "context_reads.bpmn"
T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def _python(code: str, **env: str) -> dict:
    """Run `code` in a fresh interpreter of this environment; it prints one JSON document."""
    clean = {k: v for k, v in os.environ.items() if k != "TOURFLOW_HANDLER_MODULES"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**clean, "PYTHONPATH": str(REPO), **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


LOOKUP = """
import json, sys
from engine.plugins.handlers import get_handler, handler_names
before = sorted(m for m in sys.modules if m == "handlers" or m.startswith("handlers."))
found = get_handler("contact_archive")
print(json.dumps({"before": before, "module": found.__module__ if found else None, "names": sorted(handler_names()),
                  "loaded": "handlers.plugin" in sys.modules}))
"""


def test_the_agencys_handlers_are_found_through_the_entry_point():
    from importlib.metadata import entry_points

    points = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert points.get("agency") == "handlers.plugin:load", \
        "the package metadata lacks the entry point: reinstall with `pip install -e .`"
    seen = _python(LOOKUP)
    assert seen["before"] == [], "the port imports no plug-in before the first lookup"
    assert seen["module"] == "handlers.contact_center" and seen["loaded"]
    assert {"contact_archive", "archive_walk_in_visit", "make_quote", "followup_save"} <= set(seen["names"])


def test_modules_named_in_the_environment_are_loaded_too():
    seen = _python(LOOKUP.replace('"contact_archive"', '"test_record_effect"'),
                   TOURFLOW_HANDLER_MODULES=" tests.fixtures.worker_handlers ,")
    assert seen["module"] == "tests.fixtures.worker_handlers"
    assert {"test_record_effect", "test_flaky", "contact_archive"} <= set(seen["names"])


def test_plugins_load_once_on_the_first_lookup_or_when_asked():
    calls = []
    registry = HandlerRegistry(discover=lambda: calls.append(registry.register("x", lambda ctx: {}, writes=False)))
    assert calls == []
    assert registry.get("x") is not None and registry.names() == {"x"}
    registry.load_plugins()
    assert len(calls) == 1
    assert registry.writes(registry.get("x")) is False


def test_a_name_is_registered_once():
    registry = HandlerRegistry()

    def first(ctx):
        return {}

    def second(ctx):
        return {}

    registry.register("book", first)
    registry.register("book", first)  # the same function again (a module imported twice) is no clash
    with pytest.raises(ValueError, match="'book' is registered twice"):
        registry.register("book", second)
    assert registry.get("book") is first and registry.writes(first)
    load_plugins()  # before: a plug-in's name taken first would make the plug-in fail to load
    with pytest.raises(ValueError, match="'contact_archive' is registered twice"):
        handler("contact_archive")(second)


@handler("test_read_context", writes=False)
def read_context(ctx: HandlerContext) -> dict:
    key_before = ctx.business_key
    if key_before is None:
        ctx.set_business_key(f"CTX-{ctx.instance_id}")
    return {"started_by": ctx.started_by, "started_at": ctx.started_at.isoformat(),
            "key_before": key_before, "key_after": ctx.business_key,
            "note_by": ctx.completed_by("take_note"), "never_done": ctx.completed_by("read_after_note"),
            "step_completed_by": ctx.step_completed_by}


def test_a_handler_reads_its_instance_through_the_context(runtime):
    deploy(runtime, FIXTURE)
    with frozen_at(T0):
        instance_id = runtime.start("context_reads", actor="agent1")
    at_start = runtime.show(instance_id)["data"]["at_start"]
    assert at_start == {"started_by": "agent1", "started_at": T0.isoformat(), "key_before": None,
                        "key_after": f"CTX-{instance_id}", "note_by": None, "never_done": None,
                        "step_completed_by": None}
    [task] = runtime.tasks(instance_id=instance_id)
    runtime.complete(task["id"], "agent2", {"note": "已记录"})
    shown = runtime.show(instance_id)
    assert shown["status"] == "completed"
    assert shown["data"]["after_note"] == {"started_by": "agent1", "started_at": T0.isoformat(),
                                           "key_before": f"CTX-{instance_id}", "key_after": f"CTX-{instance_id}",
                                           "note_by": "agent2", "never_done": None, "step_completed_by": "agent2"}


def test_the_agencys_handlers_read_no_engine_table():
    """What a handler reads of the engine comes through its context, not engine.store.models."""
    offenders = [path.name for path in (REPO / "handlers").glob("*.py") if "engine.store" in path.read_text()]
    assert offenders == []
