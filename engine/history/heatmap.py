"""Heatmap of one process version: how many instances passed each node, and how long they stayed.

Built from replays (engine/history/replay.py), so it needs no history table of its own and agrees
with what the audit record proves: for each instance, a node is *entered* at the first
event after which it is active, waiting or done, and *left* at the first event after which
it is done and no longer active or waiting. Time spent = left - entered (nodes passed
within one step spend 0 s; nodes still active count as passed, with the time so far; a node
left without being done, like a boundary timer whose task finished first, was not passed).
Replays of finished instances never change and are kept in memory.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.clock import parse_iso, utcnow
from engine.errors import NotFound
from engine.history.replay import replay
from engine.limits import HEATMAP_REPLAYS_MAX, BoundedCache
from engine.run.runtime import Runtime
from engine.store.models import Deployment, ProcessInstance
from engine.store.states import FINISHED

# Replays of finished instances (they never change), by (database, instance id): ids repeat across
# databases (tests, a second deployment).
_replays: BoundedCache[tuple[str, int], list[dict[str, Any]]] = BoundedCache(HEATMAP_REPLAYS_MAX)


def _snapshots(runtime: Runtime, instance_id: int, status: str) -> list[dict[str, Any]]:
    key = (runtime.db.url, instance_id)
    cached = _replays.get(key)
    if cached is not None:
        return cached
    snapshots = replay(runtime, instance_id).snapshots
    if status in FINISHED:
        _replays.put(key, snapshots)
    return snapshots


def _moment(text: str) -> datetime:
    return parse_iso(text, naive_zone=None)


def node_visits(snapshots: list[dict[str, Any]], now: datetime,
                boundaries: frozenset[str] | set[str] = frozenset()) -> dict[str, float]:
    """node -> seconds spent in it, for one instance's snapshots (nodes it passed only).

    Passed: done at some event (from entering to that event), or, at the last event, still
    active, or still waiting other than as a boundary event (the time so far). A node left
    without being done was not passed: a boundary event whose task finished first, the other
    path of an event-based gateway, a task of a cancelled instance.
    """
    entered: dict[str, datetime] = {}
    left: dict[str, datetime] = {}
    for snap in snapshots:
        at = _moment(snap["at"])
        busy = set(snap["active"]) | set(snap["waiting"])
        done = set(snap["completed"])
        for node in busy | done:
            entered.setdefault(node, at)
        for node in done - busy:
            left.setdefault(node, at)
    last = snapshots[-1] if snapshots else {"active": [], "waiting": []}
    still = set(last["active"]) | (set(last["waiting"]) - set(boundaries))
    visits = {}
    for node, start in entered.items():
        end = left.get(node) or (now if node in still else None)
        if end is not None:
            visits[node] = max(0.0, (end - start).total_seconds())
    return visits


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def heatmap(runtime: Runtime, process_id: str, version: int, limit: int = 2000) -> dict[str, Any]:
    """Per node of one version: instances that passed it, median and p90 seconds spent there."""
    with runtime.db.read() as session:
        deployment_id = session.execute(select(Deployment.id).where(
            Deployment.process_id == process_id, Deployment.version == version)).scalar_one_or_none()
        if deployment_id is None:
            raise NotFound(f"process {process_id!r} has no version {version}", key="process.no_version",
                           params={"process": process_id, "version": version})
        rows = session.execute(
            select(ProcessInstance.id, ProcessInstance.status).where(ProcessInstance.deployment_id == deployment_id)
            .order_by(ProcessInstance.id.desc()).limit(limit)
        ).all()
        xml = session.get(Deployment, deployment_id).bpmn_xml
        model = runtime.deployed(session, deployment_id).model
    now = utcnow()
    spent: dict[str, list[float]] = defaultdict(list)
    for instance_id, status in rows:
        for node, seconds in node_visits(_snapshots(runtime, instance_id, status), now,
                                         model.boundary_events).items():
            spent[node].append(seconds)
    nodes = {
        node: {"name": model.node_names.get(node, node), "instances": len(values),
               "median_s": round(statistics.median(values), 3), "p90_s": round(_percentile(values, 0.9), 3)}
        for node, values in sorted(spent.items())
    }
    return {"process": process_id, "version": version, "instances": len(rows), "heat": nodes,
            "max_instances": max((n["instances"] for n in nodes.values()), default=0), "bpmn_xml": xml}


__all__ = ["heatmap", "node_visits"]
