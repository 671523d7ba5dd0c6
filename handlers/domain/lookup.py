"""Reads of the agency tables that several handlers share: a customer's bookings, a desk's products, the
archive row a step filed already."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.plugins.handlers import HandlerContext
from handlers.domain.models import ArchiveRecord, Booking, Product


def customer_bookings(session: Session, customer_id: int, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Booking, Product).join(Product, Product.id == Booking.product_id)
        .where(Booking.customer_id == customer_id).order_by(Booking.depart_on, Booking.id).limit(limit)
    ).all()
    return [{"code": b.code, "product_code": p.code, "product_name": p.name, "desk": p.desk,
             "tour_id": b.tour_id, "depart_on": b.depart_on.isoformat(), "party_size": b.party_size,
             "amount": str(b.amount), "status": b.status} for b, p in rows]


def desk_products(session: Session, desk: str | None, limit: int) -> list[dict[str, Any]]:
    """The products of one desk (every desk when None)."""
    query = select(Product).order_by(Product.code).limit(limit)
    if desk:
        query = query.where(Product.desk == desk)
    return [{"code": p.code, "name": p.name, "desk": p.desk, "destination": p.destination,
             "days": p.days, "price": str(p.price)} for p in session.execute(query).scalars()]


def existing_archive(ctx: HandlerContext) -> ArchiveRecord | None:
    """The archive row this step filed already (found by its idempotency key): a step run again
    answers with it instead of filing twice."""
    return ctx.session.execute(
        select(ArchiveRecord).where(ArchiveRecord.idempotency_key == ctx.idempotency_key)).scalar_one_or_none()
