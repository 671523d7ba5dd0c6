"""engine/access/privacy.py: personal values masked by the forms' `x-personal` flags and the known keys,
in data, diffs, event payloads and free text; nothing else touched."""

from __future__ import annotations

import json

from engine.access.privacy import Masker, form_personal_keys
from engine.config import DEFAULT_PROCESSES_DIR

FORMS = {"take": {"type": "object", "properties": {
    "guest_id": {"type": "string", "title": "证件号码", "x-personal": "id_number"},
    "mail": {"type": "string", "x-personal": "email"},
    "trip": {"type": "object", "properties": {"home": {"type": "string", "x-personal": "address"}}},
    "note": {"type": "string", "title": "备注"}}}}


def test_flagged_form_fields_and_known_keys_are_masked_by_kind():
    mask = Masker(FORMS)
    data = {"guest_id": "110101199003071234", "mail": "zhang.san@example.com", "trip": {"home": "上海市徐汇区漕溪北路88号"},
            "caller_number": "13801234567", "customer_name": "张建国", "note": "靠窗座位", "party_size": 4,
            "paid": True, "tour_id": "SH-2026-1118"}

    assert mask(data) == {
        "guest_id": "110***********1234", "mail": "z***@example.com", "trip": {"home": "上海市徐汇区***"},
        "caller_number": "138****4567", "customer_name": "张**", "note": "靠窗座位", "party_size": 4,
        "paid": True, "tour_id": "SH-2026-1118"}
    assert data["caller_number"] == "13801234567", "the original is not changed"


def test_diffs_lookups_and_lists_are_masked_inside():
    payload = {"name": "受理投诉", "diff": {"contact_phone": [None, "13801234567"], "kind": [None, "住宿餐饮"]},
               "output": {"customer": {"id": 7, "name": "李秀英", "phone": "13912345678", "city": "上海"}},
               "targets": [{"customer_name": "王芳", "phone": "021-62345678"}]}

    assert Masker()(payload) == {
        "name": "受理投诉", "diff": {"contact_phone": [None, "138****4567"], "kind": [None, "住宿餐饮"]},
        "output": {"customer": {"id": 7, "name": "李**", "phone": "139****5678", "city": "上海"}},
        "targets": [{"customer_name": "王*", "phone": "021****5678"}]}


def test_phones_and_id_numbers_typed_into_free_text_are_masked():
    text = "客户电话13801234567，身份证11010119900307123X，订单 SH-2026-1118，哈希 a13801234567b"
    assert Masker()({"description": text})["description"] == (
        "客户电话138****4567，身份证110***********123X，订单 SH-2026-1118，哈希 a13801234567b")


def test_a_masker_for_a_viewer_who_may_see_it_lets_everything_through():
    data = {"contact_phone": "13801234567", "description": "电话13801234567"}
    assert Masker(FORMS, masked=False)(data) == data
    assert Masker(FORMS).drop({**data, "kind": "住宿餐饮"}) == {"description": "电话13801234567", "kind": "住宿餐饮"}


def test_every_form_of_the_processes_flags_its_phones_and_names():
    flagged: dict[str, str] = {}
    for path in (DEFAULT_PROCESSES_DIR / "forms").glob("*/*.schema.json"):
        flagged.update(form_personal_keys({path.name: json.loads(path.read_text(encoding="utf-8"))}))
    assert {k: flagged.get(k) for k in ("contact_phone", "customer_phone", "complainant_phone", "customer_name",
                                        "contact", "target_customers")} == {
        "contact_phone": "phone", "customer_phone": "phone", "complainant_phone": "phone", "customer_name": "name",
        "contact": "contact", "target_customers": "phone"}
