"""handlers/domain/kpi.py: every figure of the KPI dashboard against numbers worked out by hand.

The data set: complaints walked through the real P6 and P7 processes (intake, local resolution,
the QC chain, authority cases, the 1-hour and authority deadlines fired by `tick`), a follow-up
call through P5, a desk booking through P10, inquiries started as P8/P10 instances; contact
records, further follow-ups and bookings are inserted as the handlers would write them (their
process paths are long and tested elsewhere). Times are China time (UTC+8); the report range is
the four ISO weeks 2026-10-26 .. 2026-11-22:

    W44 = 10-26..11-01   W45 = 11-02..11-08   W46 = 11-09..11-15   W47 = 11-16..11-22
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from handlers.domain import kpi
from handlers.domain.kpi_periods import RangeError, parse_range, periods
from tests.support.kpi import END, NOW, START, WEEKS, add_rows, cn, followup, seed

pytestmark = pytest.mark.both_databases


@pytest.fixture
def seeded(runtime):
    ids = seed(runtime)
    return runtime, ids


def weekly(rt, **filters):
    with rt.db.read() as session:
        return kpi.report(session, START, END, "week", now=NOW, **filters)


def column(section: dict, *path: str) -> list:
    """One figure of every period row, e.g. column(r["complaints"], "by_kind", "住宿餐饮")."""
    out = []
    for row in section["rows"]:
        value = row
        for key in path:
            value = value[key]
        out.append(value)
    return out


# ---- the figures ----------------------------------------------------------------------------
def test_periods_and_range(seeded):
    report = weekly(seeded[0])
    assert [p["key"] for p in report["periods"]] == WEEKS
    assert report["periods"][0] == {"key": "2026-W44", "label": "10-26~11-01", "start": "2026-10-26",
                                    "end": "2026-11-02", "partial": False}
    assert report["range"] == {"from": "2026-10-26", "to": "2026-11-23", "granularity": "week",
                               "timezone": "Asia/Shanghai", "as_of": "2026-11-22T16:00:00Z",  # 11-23 00:00 China
                               "desk": None, "process": None}


def test_complaint_volume_by_kind_time_class_and_source(seeded):
    complaints = weekly(seeded[0])["complaints"]
    # W44: c1 c2 | W45: c3 c4 c5 | W46: c6 c7 a1 | W47: c8 c9 c10 c11 c12 c13 c14 a2 a3
    # (c0 lies before the range; c15 was handed to the authority, counted once as the P7 case a3
    # it started; c16 was cancelled)
    assert column(complaints, "total") == [2, 3, 3, 9]
    assert complaints["total"]["total"] == 17
    assert column(complaints, "by_kind", "住宿餐饮") == [0, 1, 0, 4]      # c3 | c8 c9 c10 a3
    assert column(complaints, "by_kind", "导游服务") == [2, 2, 2, 2]      # c1 c2 | c4 c5 | c6 c7 | c11 c12
    assert column(complaints, "by_kind", "服务质量") == [0, 0, 0, 1]      # c13
    assert column(complaints, "by_kind", "行程安排") == [0, 0, 1, 1]      # a1 | a2
    assert column(complaints, "by_kind", "未登记") == [0, 0, 0, 1]        # c14: intake never done
    assert complaints["total"]["by_kind"] == {"服务质量": 1, "行程安排": 2, "住宿餐饮": 5, "导游服务": 8, "未登记": 1}
    # 旅游前: c3 c7 c11 c13 a3; 旅游过程中: c1 c4 c6 c8 c9 a2; 旅游后: c2 c5 a1 c10 c12
    assert complaints["total"]["by_time_class"] == {"旅游前": 5, "旅游过程中": 6, "旅游后": 5, "未登记": 1}
    assert column(complaints, "by_time_class", "旅游过程中") == [1, 1, 1, 3]
    assert complaints["total"]["by_source"] == {"own": 14, "authority": 3}
    assert column(complaints, "by_source", "authority") == [0, 0, 1, 2]
    assert complaints["handed_to_authority"] == 1                          # c15
    assert complaints["kinds"] == ["服务质量", "行程安排", "住宿餐饮", "导游服务", "未登记"]


def test_resolution_rate_local_qc_and_authority(seeded):
    resolution = weekly(seeded[0])["resolution"]
    # W44 c1 local of c1 c2 = 1/2; W45 c3 qc + c4 local of 3 = 2/3; W46 c6 local + a1 of 3 = 2/3;
    # W47 c8 c9 local of 9 = 2/9
    assert column(resolution, "received") == [2, 3, 3, 9]
    assert column(resolution, "resolved") == [1, 2, 2, 2]
    assert column(resolution, "open") == [1, 1, 1, 7]
    assert column(resolution, "rate") == [0.5, 0.6667, 0.6667, 0.2222]
    assert column(resolution, "by_route", "qc") == [0, 1, 0, 0]
    assert resolution["total"] == {"received": 17, "resolved": 7, "open": 10, "rate": 0.4118,   # 7/17
                                   "by_route": {"local": 5, "qc": 1, "authority": 1}}


def test_resolution_counts_what_was_closed_by_the_end_of_the_range(seeded):
    rt = seeded[0]
    with rt.db.read() as session:
        days = kpi.report(session, date(2026, 11, 2), date(2026, 11, 5), "day", now=NOW)["resolution"]
    # 11-02: c3 taken in at 00:00, closed 11-05 15:00 after the range: open. 11-04: c4 closed, c5 open.
    assert column(days, "received") == [1, 0, 2]
    assert column(days, "resolved") == [0, 0, 1]
    assert column(days, "rate") == [0.0, None, 0.5]


def test_early_warning_flags_a_kind_rising_above_its_baseline(seeded):
    warnings = weekly(seeded[0])["warnings"]
    assert warnings["period"] == "2026-W47"
    assert warnings["baseline"] == ["2026-W43", "2026-W44", "2026-W45", "2026-W46"]  # W43 lies before the range
    items = {i["kind"]: i for i in warnings["items"]}
    # 住宿餐饮: W43 c0, W45 c3 -> mean 2/4 = 0.5; W47 has 4 >= 2 and >= 1.5 x 0.5: flagged
    assert items["住宿餐饮"] == {"kind": "住宿餐饮", "count": 4, "baseline_counts": [1, 0, 1, 0], "baseline_mean": 0.5,
                              "ratio": 8.0, "flagged": True}
    # 导游服务: mean (0+2+2+2)/4 = 1.5; 2 < 1.5 x 1.5 = 2.25: steady, not flagged
    assert items["导游服务"]["baseline_counts"] == [0, 2, 2, 2]
    assert (items["导游服务"]["count"], items["导游服务"]["flagged"]) == (2, False)
    # 服务质量: 1 (< 2) over a mean of 0; 行程安排: 1 over 0.25: too few to warn
    assert (items["服务质量"]["count"], items["服务质量"]["ratio"], items["服务质量"]["flagged"]) == (1, None, False)
    assert (items["行程安排"]["baseline_mean"], items["行程安排"]["flagged"]) == (0.25, False)
    assert warnings["flagged"] == ["住宿餐饮"]
    assert "未登记" not in items


def test_inquiries_by_channel_request_type_and_contact_resolution(seeded):
    inquiries = weekly(seeded[0])["inquiries"]
    # W44: contacts 1 2 3 | W45: 4 5 | W46: 7 8 + desk inquiry | W47: 9 10 11 12 13 + desk inquiry + tour
    assert column(inquiries, "total") == [3, 2, 3, 7]
    assert inquiries["total"]["by_channel"] == {"inbound_call": 7, "chat": 3, "walk_in": 2, "booking_desk": 2,
                                                "tour_inquiry": 1}
    assert column(inquiries, "by_channel", "inbound_call") == [2, 1, 1, 3]
    assert column(inquiries, "outbound_calls") == [0, 1, 0, 0]
    assert inquiries["total"]["outbound_calls"] == 1
    # contact records only: 咨询 1 2 3 8 10 12; 业务办理 4 13; 投诉 5 9; 建议 11; not recorded: 7
    assert inquiries["total"]["by_request_type"] == {"咨询": 6, "业务办理": 2, "投诉": 2, "建议": 1, "未登记": 1}
    # handled = all but self_service (7) and auto_closed (3); solved = resolved / promise kept or late
    # W44: 1 2 of 1 2 | W45: 4 of 4 5 | W46: 8 of 8 | W47: 10 12 of 9 10 11 12 13
    assert column(inquiries, "handled_contacts") == [2, 2, 1, 5]
    assert column(inquiries, "solved_contacts") == [2, 1, 1, 2]
    assert column(inquiries, "contact_resolution_rate") == [1.0, 0.5, 1.0, 0.4]
    assert inquiries["total"]["contact_resolution_rate"] == 0.6   # 6 / 10


def test_sla_breaches_and_warnings_per_rule_and_task(seeded):
    sla = weekly(seeded[0])["sla"]
    # W46: c7's 1-hour report; W47: c14's 1-hour report, a2's 75 % warning and its deadline
    assert column(sla, "breaches") == [0, 0, 1, 2]
    assert column(sla, "warnings") == [0, 0, 0, 1]
    assert sla["total"]["by_rule"] == {"report_1h": {"breaches": 2, "warnings": 0},
                                       "promised_time": {"breaches": 0, "warnings": 0},
                                       "authority_deadline": {"breaches": 1, "warnings": 1},
                                       "other": {"breaches": 0, "warnings": 0}}
    assert [(t["process"], t["task"], t["rule"], t["breaches"], t["warnings"]) for t in sla["by_task"]] == [
        ("complaint_handling", "receive_complaint", "report_1h", 2, 0),
        ("escalated_complaint", "handle_within_deadline", "authority_deadline", 1, 1)]
    assert sla["by_task"][0]["process_name"] == "游客投诉处理流程"
    assert sla["promises"] == {"kept": 1, "late": 1, "pending": 1}         # contacts 4, 10, 13
    assert sla["authority_replies"] == {"met": 1, "missed": 0, "unknown": 0}  # a1, filed 11-14


def test_satisfaction_average_distribution_and_low_scores(seeded):
    satisfaction = weekly(seeded[0])["satisfaction"]
    # W44: 5 4 2 | W45: - | W46: 2 5 3 | W47: 1 (00:00 of 11-16) and 4 (P5) | 5 on 11-23 is after the range
    assert column(satisfaction, "count") == [3, 0, 3, 2]
    assert column(satisfaction, "average") == [3.67, None, 3.33, 2.5]      # 11/3, -, 10/3, 5/2
    assert column(satisfaction, "low") == [1, 0, 1, 1]
    assert satisfaction["total"] == {"count": 8, "average": 3.25, "low": 3,  # 26 / 8
                                     "distribution": {"1": 1, "2": 2, "3": 1, "4": 2, "5": 2}}


def test_booking_volume_sources_and_accuracy_not_invented(seeded):
    bookings = weekly(seeded[0])["bookings"]
    # desk: W44 #1 | W45 #2 manual, cancelled | W46 #3 changed | W47 b2 (P10, by phone) and #4
    # tours: one tour with two holds, first on 11-20 (W47); itineraries: one (W45)
    assert column(bookings, "desk") == [1, 1, 1, 2]
    assert column(bookings, "tour") == [0, 0, 0, 1]
    assert column(bookings, "itinerary") == [0, 1, 0, 0]
    assert column(bookings, "total") == [1, 2, 1, 3]
    assert bookings["total"]["desk_manual"] == 1
    assert bookings["total"]["desk_cancelled"] == 1
    assert bookings["total"]["desk_changed"] == 1
    assert bookings["total"]["desk_by_channel"] == {"电话": 1, "在线咨询": 0, "到店": 0, "未登记": 4}
    assert bookings["accuracy"]["available"] is False


def test_filters_desk_and_process(seeded):
    rt = seeded[0]
    cruise = weekly(rt, desk="邮轮")["inquiries"]
    assert column(cruise, "total") == [1, 0, 0, 2]                        # contacts 1 | 11 12; no desk inquiries
    assert cruise["total"]["by_channel"]["booking_desk"] == 0
    authority = weekly(rt, process="escalated_complaint")["sla"]
    assert column(authority, "breaches") == [0, 0, 0, 1]
    assert authority["promises"] == {"kept": 0, "late": 0, "pending": 0}
    assert authority["authority_replies"]["met"] == 1
    calls = weekly(rt, process="inbound_call")["sla"]
    assert calls["total"]["breaches"] == 0 and calls["promises"] == {"kept": 1, "late": 0, "pending": 1}


# ---- China-time bucketing, without the processes --------------------------------------------
@pytest.fixture
def scores(runtime):
    add_rows(runtime, followup(1, cn(10, 31, 23, 30), 4),   # UTC 10-31 15:30: October everywhere
         followup(2, cn(11, 1, 0, 30), 2),              # UTC 10-31 16:30: November in China
         followup(3, cn(11, 15, 23, 59), 3),            # UTC 11-15 15:59
         followup(4, cn(11, 16, 7, 59), 1),             # UTC 11-15 23:59: November 16 in China
         followup(5, cn(11, 30, 23, 59, 59), 5),        # the last second of November
         followup(6, cn(12, 1, 0, 0), 5))               # December
    return runtime


def _report(rt, start: date, end: date, granularity: str) -> dict:
    with rt.db.read() as session:
        return kpi.report(session, start, end, granularity, now=NOW + timedelta(days=30))


def test_days_start_at_midnight_china_time(scores):
    days = _report(scores, date(2026, 11, 15), date(2026, 11, 17), "day")["satisfaction"]
    assert [r["period"] for r in days["rows"]] == ["2026-11-15", "2026-11-16"]
    assert column(days, "count") == [1, 1]
    assert column(days, "average") == [3.0, 1.0]


def test_months_start_on_the_first_china_time(scores):
    months = _report(scores, date(2026, 10, 1), date(2026, 12, 2), "month")
    assert [p["key"] for p in months["periods"]] == ["2026-10", "2026-11", "2026-12"]
    assert months["periods"][-1]["partial"] is True                       # 12-01 only
    assert column(months["satisfaction"], "count") == [1, 4, 1]            # 4 | 2 3 1 5 | 5
    assert column(months["satisfaction"], "average") == [4.0, 2.75, 5.0]   # 11/4


def test_weeks_are_iso_weeks_clipped_to_the_range(scores):
    weeks = _report(scores, date(2026, 11, 11), date(2026, 11, 20), "week")
    assert [(p["key"], p["start"], p["end"], p["partial"]) for p in weeks["periods"]] == [
        ("2026-W46", "2026-11-11", "2026-11-16", True), ("2026-W47", "2026-11-16", "2026-11-20", True)]
    assert column(weeks["satisfaction"], "count") == [1, 1]                 # 11-15 23:59 | 11-16 07:59


def test_an_empty_store_reports_zeros_not_errors(runtime):
    report = _report(runtime, date(2026, 11, 1), date(2026, 11, 8), "day")
    assert report["complaints"]["total"]["total"] == 0
    assert report["resolution"]["total"]["rate"] is None
    assert report["satisfaction"]["total"]["average"] is None
    assert report["warnings"]["flagged"] == []
    assert set(report) == {"range", "periods", *kpi.METRICS}


# ---- the range parameters ---------------------------------------------------------------------
TODAY = date(2026, 11, 25)  # a Wednesday


def test_default_range_is_the_last_eight_weeks_up_to_today():
    assert parse_range(None, None, None, TODAY) == (date(2026, 10, 5), date(2026, 11, 26), "week")
    assert parse_range(None, None, "day", TODAY) == (date(2026, 11, 12), date(2026, 11, 26), "day")
    assert parse_range(None, None, "month", TODAY) == (date(2026, 6, 1), date(2026, 11, 26), "month")
    assert len(periods(*parse_range(None, None, None, TODAY))) == 8


@pytest.mark.parametrize("args, field", [
    (("2026-11-01", "2026-11-01", "day"), "to"),
    (("2026-11-05", "2026-11-01", "day"), "to"),
    (("2026/11/01", None, "day"), "from"),
    (("2026-11-31", None, "day"), "from"),
    (("2026-11-01", "tomorrow", "day"), "to"),
    (("2026-11-01", "2026-12-01", "hour"), "granularity"),
    (("2020-01-01", "2026-01-01", "day"), "from"),          # more than 366 days
    (("1999-12-31", "2000-01-02", "day"), "from"),
])
def test_bad_ranges_name_their_field(args, field):
    with pytest.raises(RangeError) as bad:
        parse_range(*args, TODAY)
    assert bad.value.field == field
