"""Follow-up calls after a tour (P5 电话回访) and their month-end summary for QC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from engine.clock import CHINA
from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.domain.models import Booking, Branch, Customer, FollowUp, Product

LOW_SATISFACTION = 2  # a score of 2 or less is listed as a problem for QC
NO_BRANCH = "未知网点"


def _customer_of(ctx: HandlerContext) -> Customer | None:
    data = ctx.data
    customer_id = data.get("customer_id")
    if customer_id not in (None, ""):
        try:
            found = ctx.session.get(Customer, int(customer_id))
        except (TypeError, ValueError):
            found = None
        if found is not None:
            return found
    phone = data.get("phone") or data.get("contact_phone")
    if phone:
        return ctx.session.execute(
            select(Customer).where(Customer.phone == str(phone)).order_by(Customer.id).limit(1)
        ).scalar_one_or_none()
    return None


@handler("followup_load_customer", writes=False)
def load_customer(ctx: HandlerContext) -> dict:
    """Who to call and about which tour: the message's data completed from the agency tables."""
    data = ctx.data
    customer = _customer_of(ctx)
    name = data.get("customer_name") or (customer.name if customer else None)
    if not name:
        raise BusinessError("the follow-up needs customer_name, or a customer_id or phone of a known customer",
                            lane="sales")
    tour_id = data.get("tour_id") or None
    booking = None
    if tour_id:
        query = select(Booking, Product).join(Product, Product.id == Booking.product_id).where(Booking.tour_id == tour_id)
        if customer is not None:
            query = query.where(Booking.customer_id == customer.id)
        booking = ctx.session.execute(query.order_by(Booking.id).limit(1)).first()
    branch_code = data.get("branch_code") or (customer.branch_code if customer else None)
    branch = ctx.session.get(Branch, branch_code) if branch_code else None
    result: dict[str, Any] = {
        "customer_id": customer.id if customer else None,
        "customer_name": name,
        "phone": data.get("phone") or data.get("contact_phone") or (customer.phone if customer else None),
        "level": customer.level if customer else None,
        "branch_code": branch_code,
        "branch_name": branch.name if branch else None,
        "tour_id": tour_id,
    }
    if booking is not None:
        b, p = booking
        result.update({"booking_code": b.code, "product": p.name, "depart_on": b.depart_on.isoformat(),
                       "party_size": b.party_size})
    return result


@handler("followup_save")
def save_followup(ctx: HandlerContext) -> dict:
    """The follow-up form as a `followup` row (branch from the data), once per step."""
    row = ctx.session.execute(
        select(FollowUp).where(FollowUp.idempotency_key == ctx.idempotency_key)
    ).scalar_one_or_none()
    if row is None:
        data = ctx.data
        who = data.get("followup_customer") or {}
        row = FollowUp(
            idempotency_key=ctx.idempotency_key,
            instance_id=ctx.instance_id,
            tour_id=who.get("tour_id"),
            customer_id=who.get("customer_id"),
            customer_name=who.get("customer_name") or data.get("customer_name"),
            branch_code=who.get("branch_code"),
            sales=ctx.step_completed_by or "system",
            satisfaction=int(data["satisfaction"]),
            problems=data.get("problems") or "",
            service_problem=bool(data.get("service_problem")),
            called_at=ctx.now,
        )
        ctx.session.add(row)
        ctx.session.flush()
    return {"followup_id": row.id, "branch_code": row.branch_code,
            "called_at": row.called_at.astimezone(UTC).isoformat(), "reported_in": row.reported_in}


def report_period(now: datetime) -> str:
    """The month (China time) a report made at `now` belongs to: YYYY-MM."""
    return now.astimezone(CHINA).strftime("%Y-%m")


@handler("followup_monthly_gather")
def gather_month(ctx: HandlerContext) -> dict:
    """Take every follow-up not yet reported into this month's report, and summarise them per branch.

    The rows are marked `reported_in = YYYY-MM`; a second call in the same period marks nothing
    more and returns the same report.
    """
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
    period = report_period(now)
    pending = ctx.session.execute(
        select(FollowUp).where(FollowUp.reported_in.is_(None), FollowUp.called_at <= now)
    ).scalars().all()
    for row in pending:
        row.reported_in = period
    ctx.session.flush()
    rows = ctx.session.execute(
        select(FollowUp).where(FollowUp.reported_in == period).order_by(FollowUp.branch_code, FollowUp.id)
    ).scalars().all()
    phones = dict(ctx.session.execute(
        select(Customer.id, Customer.phone).where(Customer.id.in_({r.customer_id for r in rows if r.customer_id}))
    ).all()) if rows else {}
    branches = {b.code: b.name for b in ctx.session.execute(select(Branch)).scalars()}
    per_branch: dict[str, dict[str, Any]] = {
        code: {"branch_code": code, "branch_name": name, "count": 0, "avg_satisfaction": None,
               "low_satisfaction": 0, "service_problems": 0, "problems": []}
        for code, name in sorted(branches.items())
    }
    scores: dict[str, list[int]] = {}
    for row in rows:
        code = row.branch_code or NO_BRANCH
        entry = per_branch.setdefault(code, {"branch_code": row.branch_code, "branch_name": branches.get(code, code),
                                             "count": 0, "avg_satisfaction": None, "low_satisfaction": 0,
                                             "service_problems": 0, "problems": []})
        entry["count"] += 1
        scores.setdefault(code, []).append(row.satisfaction)
        entry["low_satisfaction"] += row.satisfaction <= LOW_SATISFACTION
        entry["service_problems"] += bool(row.service_problem)
        if row.service_problem or row.problems.strip() or row.satisfaction <= LOW_SATISFACTION:
            entry["problems"].append({
                "followup_id": row.id, "customer_name": row.customer_name,
                "contact_phone": phones.get(row.customer_id), "tour_id": row.tour_id,
                "satisfaction": row.satisfaction, "problems": row.problems,
                "service_problem": bool(row.service_problem), "sales": row.sales,
            })
    for code, values in scores.items():
        per_branch[code]["avg_satisfaction"] = round(sum(values) / len(values), 2)
    total = len(rows)
    return {
        "period": period,
        "generated_at": now.astimezone(CHINA).replace(microsecond=0).isoformat(),
        "total": total,
        "avg_satisfaction": round(sum(r.satisfaction for r in rows) / total, 2) if total else None,
        "branches": list(per_branch.values()),
        "followup_ids": [r.id for r in rows],
    }
