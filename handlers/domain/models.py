"""The agency's own business tables that handlers read and write."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base

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


class PriceItem(Base):
    """The operator's price tables for quotes (P8): sights, rooms, meals, vehicles, guides, transport."""

    __tablename__ = "price_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(20), index=True)  # sight/room/meal/vehicle/guide/transport
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    standard: Mapped[str | None] = mapped_column(String(20))  # 经济 / 舒适 / 豪华, seats, 飞机 / 火车
    unit: Mapped[str] = mapped_column(String(20))  # 人 / 间夜 / 人餐 / 车天 / 天
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. single_supplement, seats


class Resource(Base):
    """Something bookable with a capacity per date: a hotel's rooms, a restaurant, a coach, a guide."""

    __tablename__ = "resource"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # room / meal / vehicle / guide / transport
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    capacity: Mapped[int]  # units per date (rooms, seats, coaches, guides)
    supplier: Mapped[str | None] = mapped_column(String(120))


class ResourceBooking(Base):
    """Units of a resource held for a tour on one date; the sum per date never exceeds capacity."""

    __tablename__ = "resource_booking"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    on_date: Mapped[date] = mapped_column(index=True)
    units: Mapped[int]
    tour_id: Mapped[str] = mapped_column(String(40), index=True)
    instance_id: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), default="held")  # held / released
    created_at: Mapped[datetime]


class DeskBooking(Base):
    """A booking taken at the booking desk (P10), online or written by hand while the system was down."""

    __tablename__ = "desk_booking"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    instance_id: Mapped[int] = mapped_column(index=True)
    customer_name: Mapped[str] = mapped_column(String(80))
    contact: Mapped[str] = mapped_column(String(60))
    service: Mapped[str] = mapped_column(String(120))
    service_date: Mapped[datetime] = mapped_column(index=True)
    party_size: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(20), index=True)  # reserved / paid / changed / cancelled
    source: Mapped[str] = mapped_column(String(20), default="system")  # system / manual (taken by hand)
    taken_at: Mapped[datetime]  # when the customer booked (the original time for manual bookings)
    entered_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))


class ArchiveRecord(Base):
    """A filed case (tour, itinerary, escalated complaint): the documents' key facts, for statistics."""

    __tablename__ = "archive_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    instance_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)  # tour / itinerary / escalated_complaint / ...
    ref: Mapped[str | None] = mapped_column(String(60), index=True)  # tour id, itinerary no., authority case no.
    summary: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    archived_at: Mapped[datetime]


class Setting(Base):
    """An agency setting process owners may change (e.g. the booking desk's change/cancel notice)."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
