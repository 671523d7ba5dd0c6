"""Follow-up calls after a tour (P5 电话回访) and their month-end summary for QC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.clock import CHINA
from engine.plugins.handlers import BusinessError, HandlerContext, handler
from handlers.domain.models import ArchiveRecord, Booking, Branch, Customer, FollowUp, Product

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
    """The month (China time) `now` falls in: YYYY-MM."""
    return now.astimezone(CHINA).strftime("%Y-%m")


def previous_month(now: datetime) -> tuple[str, datetime, datetime]:
    """The month before `now` (China time): (YYYY-MM, its first instant, the first instant of `now`'s month).

    Branches hand in LAST month's forms by the end of this month, so the report made at the
    month-end close covers the month before."""
    local = now.astimezone(CHINA)
    this_month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return last_month.strftime("%Y-%m"), last_month, this_month


def tours_ended(session, first: date, after: date) -> list[dict[str, Any]]:
    """The tours whose last day is in [first, after): each one owes its branch a follow-up form
    (散客回团必须回访). Bookings of the agency's products, and the tours P8 archived."""
    ended = []
    bookings = session.execute(
        select(Booking.tour_id, Booking.depart_on, Product.days, Customer.name, Customer.branch_code)
        .join(Product, Product.id == Booking.product_id).join(Customer, Customer.id == Booking.customer_id)
        .where(Booking.tour_id.is_not(None), Booking.status != "已取消")).all()
    for tour_id, depart_on, days, name, branch_code in bookings:
        last_day = depart_on + timedelta(days=max(days, 1) - 1)
        if first <= last_day < after:
            ended.append({"tour_id": tour_id, "customer_name": name, "branch_code": branch_code,
                          "ended_on": last_day.isoformat()})
    for record in session.execute(select(ArchiveRecord).where(ArchiveRecord.kind == "tour")).scalars():
        payload = record.payload or {}
        try:
            start = date.fromisoformat(str(payload.get("start_date", ""))[:10])
        except ValueError:
            continue
        last_day = start + timedelta(days=max(int(payload.get("days") or 1), 1) - 1)
        if first <= last_day < after:
            ended.append({"tour_id": record.ref, "customer_name": payload.get("customer_name"),
                          "branch_code": payload.get("branch_code"), "ended_on": last_day.isoformat()})
    return ended


def _branch_entry(code: str | None, name: str | None) -> dict[str, Any]:
    return {"branch_code": code, "branch_name": name, "count": 0, "avg_satisfaction": None,
            "low_satisfaction": 0, "service_problems": 0, "problems": [],
            "tours_ended": 0, "missing": [], "late": False}


@handler("followup_monthly_gather")
def gather_month(ctx: HandlerContext) -> dict:
    """Last month's follow-up forms, per branch, and which branch is late with them.

    Made at the month-end close: every form of the previous month (China time) not yet
    reported (older stragglers too) is marked `reported_in = YYYY-MM` of that month; a form of
    the current month waits for next month's report. A branch is late when a tour of its
    customers ended last month and no follow-up form for that tour was handed in by now
    (`missing`); `late_branches` lists them. A second call in the same month marks nothing
    more and returns the same report.
    """
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
    period, first, this_month = previous_month(now)
    pending = ctx.session.execute(
        select(FollowUp).where(FollowUp.reported_in.is_(None), FollowUp.called_at < this_month.astimezone(UTC))
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
    per_branch: dict[str, dict[str, Any]] = {code: _branch_entry(code, name) for code, name in sorted(branches.items())}
    scores: dict[str, list[int]] = {}
    for row in rows:
        code = row.branch_code or NO_BRANCH
        entry = per_branch.setdefault(code, _branch_entry(row.branch_code, branches.get(code, code)))
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
    followed = set(ctx.session.execute(
        select(FollowUp.tour_id).where(FollowUp.tour_id.is_not(None), FollowUp.called_at <= now)).scalars())
    for tour in tours_ended(ctx.session, first.date(), this_month.date()):
        code = tour["branch_code"] or NO_BRANCH
        entry = per_branch.setdefault(code, _branch_entry(tour["branch_code"], branches.get(code, code)))
        entry["tours_ended"] += 1
        if tour["tour_id"] not in followed:
            entry["missing"].append(tour)
            entry["late"] = True
    total = len(rows)
    return {
        "period": period,
        "generated_at": now.astimezone(CHINA).replace(microsecond=0).isoformat(),
        "total": total,
        "avg_satisfaction": round(sum(r.satisfaction for r in rows) / total, 2) if total else None,
        "branches": list(per_branch.values()),
        "late_branches": [e["branch_code"] or NO_BRANCH for e in per_branch.values() if e["late"]],
        "followup_ids": [r.id for r in rows],
    }
