"""Readers shared by the contact-center process tests (inbound call, e-commerce chat)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from engine.store.models import Job
from handlers.domain.models import ContactRecord


def contact_records(runtime) -> list[ContactRecord]:
    with runtime.db.read() as session:
        return list(session.execute(select(ContactRecord).order_by(ContactRecord.id)).scalars())


def jobs(runtime, instance_id: int) -> list[Job]:
    with runtime.db.read() as session:
        return list(session.execute(select(Job).where(Job.instance_id == instance_id).order_by(Job.id)).scalars())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
