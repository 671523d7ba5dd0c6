"""The agency's own business tables that handlers read and write."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(30), index=True)
    city: Mapped[str | None] = mapped_column(String(40))


class Complaint(Base):
    """An archived complaint, one per complaint_handling instance, for statistics."""

    __tablename__ = "complaint"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    instance_id: Mapped[int] = mapped_column(index=True)
    customer_name: Mapped[str] = mapped_column(String(80))
    contact_phone: Mapped[str] = mapped_column(String(30))
    complaint_at: Mapped[datetime | None]
    time_class: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str] = mapped_column(Text)
    customer_request: Mapped[str] = mapped_column(Text)
    tour_id: Mapped[str | None] = mapped_column(String(40))
    handled_by: Mapped[str] = mapped_column(String(20))
    responsible_department: Mapped[str | None] = mapped_column(String(80))
    compensation_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=0)
    advance_payment: Mapped[bool] = mapped_column(default=False)
    resolution: Mapped[str | None] = mapped_column(Text)
    customer_satisfied: Mapped[bool | None]
    archived_at: Mapped[datetime]
