"""The states the engine's rows move through, one StrEnum per column.

A member compares equal to its string, and JSON, templates and f-strings show the string,
so API output reads exactly as before; the columns store the same VARCHAR (engine/store/types.py).
"""

from __future__ import annotations

from enum import StrEnum


class InstanceStatus(StrEnum):
    RUNNING = "running"
    RETRYING = "retrying"  # a handler failed; a retry job is due
    ERROR = "error"  # an incident: waits for a person
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTaskState(StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class JobState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class JobKind(StrEnum):
    TIMER = "timer"
    START_TIMER = "start_timer"
    RETRY = "retry"


class MessageState(StrEnum):
    BUFFERED = "buffered"  # waits for an instance with its correlation key
    DELIVERED = "delivered"
    EXPIRED = "expired"


class OutboxStatus(StrEnum):
    """A message for a customer or a staff member (engine/outbox, docs/outbox.md)."""

    QUEUED = "queued"  # waits for its next_attempt_at; a worker takes it
    SENDING = "sending"  # leased to a worker that is handing it to the channel
    SENT = "sent"  # the channel accepted it
    DELIVERED = "delivered"  # the provider reported it reached the person (or the log channel wrote it)
    FAILED = "failed"  # the last attempt failed, or the provider reported a failure: an incident
    CANCELLED = "cancelled"  # given up by a person, with a reason


FINISHED = (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED)  # an instance that runs no more
