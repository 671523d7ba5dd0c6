"""The agency's own business tables that handlers read and write."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base

DESKS = ("邮轮", "旅游", "自由行")  # cruise, tour, free travel: the call-centre desks


class Branch(Base):
    """A sales branch (营业网点); follow-up forms are gathered per branch each month."""

    __tablename__ = "branch"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(40))


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(30), index=True)
    city: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(20), default="普通", server_default="普通")
    branch_code: Mapped[str | None] = mapped_column(ForeignKey("branch.code"))


class Product(Base):
    """Something the agency sells, on one desk."""

    __tablename__ = "product"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    desk: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(120))
    destination: Mapped[str] = mapped_column(String(80))
    days: Mapped[int]
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class Booking(Base):
    __tablename__ = "booking"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    tour_id: Mapped[str | None] = mapped_column(String(40), index=True)
    depart_on: Mapped[date]
    party_size: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(20))  # 已预订 / 已出行 / 已取消


class AgentStatus(Base):
    """An agent's desk and availability, for routing calls and chats."""

    __tablename__ = "agent_status"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    desk: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="available")  # available / busy / offline
    max_chats: Mapped[int] = mapped_column(default=3)
    updated_at: Mapped[datetime]


class ContactRecord(Base):
    """One archived customer contact: an inbound or outbound call, a chat, or a walk-in visit."""

    __tablename__ = "contact_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    instance_id: Mapped[int] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)  # inbound_call / outbound_call / chat / walk_in
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    contact: Mapped[str | None] = mapped_column(String(60))  # phone number or chat handle
    desk: Mapped[str | None] = mapped_column(String(20))
    request_type: Mapped[str | None] = mapped_column(String(20), index=True)  # 咨询 / 业务办理 / 投诉 / 建议
    summary: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(20), index=True)  # resolved / escalated / unresolved / ...
    handled_by: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime]
    archived_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class FollowUp(Base):
    """A follow-up call after a tour (P5), gathered per branch for the monthly QC report."""

    __tablename__ = "followup"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    instance_id: Mapped[int] = mapped_column(index=True)
    tour_id: Mapped[str | None] = mapped_column(String(40), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    customer_name: Mapped[str] = mapped_column(String(80))
    branch_code: Mapped[str | None] = mapped_column(String(20), index=True)
    sales: Mapped[str] = mapped_column(String(80))
    satisfaction: Mapped[int]
    problems: Mapped[str] = mapped_column(Text, default="")
    service_problem: Mapped[bool] = mapped_column(default=False)
    called_at: Mapped[datetime] = mapped_column(index=True)
    reported_in: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM of the QC report that took it


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
