"""Messages between instances: delivery to a waiting instance by business key, or a new start.

A message comes from outside (`tourflow message`, the API) or is thrown by an instance
(a message throw event whose message nobody in that instance catches). Either way it is
routed in the caller's transaction, so a step and the messages it sends commit together.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import utcnow
from .models import ProcessInstance

if TYPE_CHECKING:
    from .runtime import Runtime
    from .step import Step

CORRELATION_KEY = "correlation_key"
# A message that makes an instance throw another, and so on: a loop in the diagrams.
MAX_HOPS = 25


def catches_message(task, name: str) -> bool:
    """Whether a waiting task catches message `name`: a message event, a receive task, or an
    event-based gateway (SpiffWorkflow moves its events into one MultipleEventDefinition)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return any(isinstance(d, MessageEventDefinition) and d.name == name for d in definition.event_definitions)
    return isinstance(definition, MessageEventDefinition) and definition.name == name


def deliver(workflow: BpmnWorkflow, name: str, payload: dict[str, Any]) -> None:
    """Merge the message's data into the catching event's data, then let it catch."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if catches_message(task, name):
            task.set_data(**copy.deepcopy(payload))
    workflow.event_manager.catch(BpmnEvent(MessageEventDefinition(name), payload=payload), internal=False)


def waits_for(workflow: BpmnWorkflow, name: str) -> bool:
    return any(catches_message(task, name) for task in workflow.get_tasks(state=TaskState.WAITING))


def thrown_messages(workflow: BpmnWorkflow) -> list[tuple[str, dict[str, Any]]]:
    """The messages the workflow threw and did not catch itself (taken out of it)."""
    found = []
    for event in workflow.get_events():
        if isinstance(event.event_definition, MessageEventDefinition):
            payload = event.payload if isinstance(event.payload, dict) else {"value": event.payload}
            found.append((event.event_definition.name, payload))
    return found


class MessageRouter:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def route(self, session: Session, name: str, key: str | None, payload: dict[str, Any], actor: str,
              sender: int | None = None) -> dict[str, Any] | None:
        """Deliver to the running instance keyed `key` that waits for `name`, else start a process
        with a message start for `name`. None when nobody takes it."""
        record = {"name": name, "key": key, "data": payload, "from_instance": sender}
        if key is not None:
            candidates = session.execute(
                select(ProcessInstance.id).where(ProcessInstance.status == "running",
                                                 ProcessInstance.business_key == key,
                                                 ProcessInstance.id != (sender or 0))
                .order_by(ProcessInstance.id)
            ).scalars().all()
            for candidate in candidates:
                instance = self.runtime._lock_instance(session, candidate)
                step = self.runtime._open_step(session, instance, actor, utcnow())
                if not waits_for(step.workflow, name):
                    continue
                step.event("message_received", record)
                deliver(step.workflow, name, payload)
                step.advance()
                return {"delivered_to": instance.id, "started": False}
        for deployment in self.runtime._latest_deployments(session):
            if name in deployment.model.message_starts:
                workflow = BpmnWorkflow(deployment.model.spec, deployment.model.subprocess_specs)
                instance = self.runtime._begin(session, deployment, workflow, payload, actor, key, message=record)
                return {"delivered_to": instance.id, "started": True}
        return None

    def send_thrown(self, step: Step, outgoing: list[tuple[str, dict[str, Any]]]) -> None:
        """Route what a step's instance threw; record each send in the sender's history."""
        hops = step.session.info.setdefault("tourflow_message_hops", 0)
        for name, payload in outgoing:
            if hops >= MAX_HOPS:
                step.event("message_sent", {"name": name, "delivered_to": None,
                                            "error": f"more than {MAX_HOPS} messages in one step; stopped"})
                continue
            hops += 1
            step.session.info["tourflow_message_hops"] = hops
            data = {k: v for k, v in payload.items() if k != CORRELATION_KEY}
            key = payload.get(CORRELATION_KEY)
            key = None if key is None else str(key)
            result = self.route(step.session, name, key, data, step.actor, sender=step.instance.id)
            step.event("message_sent", {"name": name, "key": key, "data": data,
                                        "delivered_to": result["delivered_to"] if result else None,
                                        "started": bool(result and result["started"])})
