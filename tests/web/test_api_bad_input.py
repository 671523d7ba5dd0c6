"""Bad input never answers 500: each case gets a precise error body and the right status.

Every answer also goes through the OpenAPI check of tests/support/api.py (documented status, Error schema).
"""

from __future__ import annotations

import json

import pytest

from engine.limits import ID_MAX, JSON_BODY_MAX, JSON_DEPTH_MAX, NAME_MAX, PAGE_MAX, REASON_MAX, TEXT_MAX
from tests.support.api import COMPLAINT_PROCESS, Api

pytestmark = pytest.mark.both_databases

MESSAGES = "/api/v1/messages"
START = f"/api/v1/processes/{COMPLAINT_PROCESS}/instances"
HUGE_ID = 2**63  # one past what SQLite stores in an integer


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # the assertions read the English messages


def _error(response, status: int, code: str, field: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"] == code, body
    assert body["message"], body
    if field is not None:
        assert body["field"] == field, body
    return body


def _raw(caller, url: str, text: str | bytes):
    return caller.call("POST", url, data=text.encode() if isinstance(text, str) else text)


# ---- JSON that json.loads cannot take or should not ----------------------------------------
def test_a_deeply_nested_body_is_400_not_a_recursion_error(api):
    deep = '{"name": "x", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    body = _error(_raw(api.bearer("supervisor1"), MESSAGES, deep), 400, "invalid_json")
    assert "nested" in body["message"]


def test_a_body_nested_past_the_limit_is_422_naming_the_field(api):
    nested: object = "leaf"
    for _ in range(JSON_DEPTH_MAX + 1):
        nested = {"a": nested}
    body = _error(api.bearer("supervisor1").post(MESSAGES, {"name": "x", "data": nested}), 422,
                  "validation_error", "data")
    assert f"deeper than {JSON_DEPTH_MAX}" in body["message"]


def test_an_integer_over_4300_digits_is_400(api):
    text = '{"name": "x", "ttl_seconds": ' + "9" * 5000 + "}"
    body = _error(_raw(api.bearer("supervisor1"), MESSAGES, text), 400, "invalid_json")
    assert "digits" in body["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api, literal):
    text = '{"name": "x", "ttl_seconds": ' + literal + "}"
    body = _error(_raw(api.bearer("supervisor1"), MESSAGES, text), 400, "invalid_json")
    assert literal.lstrip("-") in body["message"]


@pytest.mark.parametrize("ttl", ["1e308", "1e400", "-1e400"])
def test_a_huge_or_infinite_ttl_is_422(api, ttl):
    text = '{"name": "payment_received", "correlation_key": "K", "ttl_seconds": ' + ttl + "}"
    _error(_raw(api.bearer("supervisor1"), MESSAGES, text), 422, "validation_error", "ttl_seconds")


@pytest.mark.parametrize(("url", "body", "field"), [
    (MESSAGES, '{"name": "\\ud800"}', "name"),
    (MESSAGES, '{"name": "payment_received", "correlation_key": "K", "data": {"note": "a\\udfffb"}}', "data.note"),
    (MESSAGES, '{"name": "payment_received", "correlation_key": "K", "data": {"\\ud800": 1}}', "data.?"),
    (START, '{"data": {"customer_name": ["ok", "\\ud83d"]}}', "data.customer_name[1]"),
    (START, '{"business_key": "\\udc00"}', "business_key"),
])
def test_a_lone_surrogate_anywhere_in_a_body_is_422_naming_it(api, url, body, field):
    who = "supervisor1" if url == MESSAGES else "agent1"
    answer = _error(_raw(api.bearer(who), url, body), 422, "validation_error", field)
    assert "surrogate" in answer["message"]


@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/tasks?lane=a%00b", "lane"), ("/api/v1/instances?process=%00", "process"),
    ("/api/v1/search?customer=x%00", "customer"), ("/api/v1/messages?name=%00", "name"),
    ("/api/v1/me?x%00=1", "x?"),
])
def test_a_nul_character_in_a_query_parameter_is_422(api, url, field):
    body = _error(api.as_("auditor1").get(url), 422, "validation_error", field)
    assert "NUL" in body["message"]


def test_a_nul_character_in_a_path_is_404(api):
    _error(api.as_("auditor1").get("/api/v1/processes/a%00b/versions/1/diagram"), 404, "not_found")
    _error(api.bearer("agent1").post("/api/v1/processes/a%00b/instances", {}), 404, "not_found")


@pytest.mark.parametrize(("body", "field"), [
    ('{"business_key": "a\\u0000b"}', "business_key"),
    ('{"data": {"note": "a\\u0000b"}}', "data.note"),
    ('{"data": {"a\\u0000": 1}}', "data.?"),
])
def test_a_nul_character_in_a_body_is_422(api, body, field):
    answer = _error(_raw(api.bearer("agent1"), START, body), 422, "validation_error", field)
    assert "NUL" in answer["message"]


def test_a_nul_character_in_a_page_form_is_422(api, client_for):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    response = client_for("agent1").post(f"/tasks/{task['id']}/reassign", {"to_user": "agent1", "reason": "a\x00b"})
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


def test_a_lone_surrogate_in_form_data_is_422(api):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    response = _raw(api.bearer("agent1"), f"/api/v1/tasks/{task['id']}/complete",
                    '{"customer_name": "\\ud800"}')
    _error(response, 422, "validation_error", "customer_name")


def test_an_integer_beyond_64_bits_in_a_body_is_422(api):
    response = api.bearer("agent1").post(START, {"data": {"booking_id": HUGE_ID}})
    body = _error(response, 422, "validation_error", "data.booking_id")
    assert "64 bits" in body["message"]


# ---- ids, pages and dates past what the databases and datetime hold ------------------------
@pytest.mark.parametrize("url", [
    f"/api/v1/tasks/{HUGE_ID}", f"/api/v1/instances/{HUGE_ID}", f"/api/v1/instances/{10**30}/events",
    f"/api/v1/instances/{2**31}", f"/api/v1/tasks/{2**31}",  # past PostgreSQL's 32-bit INTEGER ids
    f"/api/v1/instances/{HUGE_ID}/audit", f"/api/v1/processes/{COMPLAINT_PROCESS}/versions/{HUGE_ID}/diagram",
])
def test_ids_over_2_63_in_urls_are_404(api, url):
    _error(api.as_("auditor1").get(url), 404, "not_found")


@pytest.mark.parametrize("task_id", [2**31, HUGE_ID, 10**30])
def test_an_id_past_the_column_is_404_whatever_the_method_of_a_shared_path(api, task_id):
    """GET and POST /tasks/<id>/draft are two rules on one path: a POST used to answer 405 (the GET's)."""
    _error(api.bearer("agent1").post(f"/api/v1/tasks/{task_id}/draft", {"data": {}}), 404, "not_found")
    _error(api.bearer("agent1").get(f"/api/v1/tasks/{task_id}/draft"), 404, "not_found")


def test_the_id_pattern_holds_every_id_up_to_the_largest_and_none_past_it():
    import re

    from webapp.request_limits import digits_up_to
    for limit in (ID_MAX, 7, 10, 100, 2024):
        pattern = re.compile(digits_up_to(limit))
        assert all(pattern.fullmatch(str(n)) for n in [*range(min(limit, 2100) + 1), limit - 1, limit])
        assert not any(pattern.fullmatch(str(n)) for n in (limit + 1, limit + 10, limit * 10, 10**30, -1))


def test_the_largest_id_is_an_ordinary_404(api):
    body = _error(api.as_("auditor1").get(f"/api/v1/instances/{ID_MAX}"), 404, "not_found")
    assert str(ID_MAX) in body["message"], "the engine looked it up: the id column holds it"


def test_ids_over_2_63_in_post_urls_are_404(api):
    _error(api.bearer("agent1").post(f"/api/v1/tasks/{HUGE_ID}/claim"), 404, "not_found")
    _error(api.bearer("supervisor1").post(f"/api/v1/instances/{HUGE_ID}/incident/resolve", {"reason": "r"}),
           404, "not_found")


@pytest.mark.parametrize("url", ["/api/v1/tasks", "/api/v1/instances", "/api/v1/audit/chains", "/api/v1/search"])
def test_a_page_past_the_cap_is_422(api, url):
    body = _error(api.as_("auditor1").get(f"{url}?page=9223372036854775807"), 422, "validation_error", "page")
    assert str(PAGE_MAX) in body["message"] or "range" in body["message"]


def test_the_last_allowed_page_is_an_empty_page(api):
    response = api.as_("auditor1").get(f"/api/v1/instances?page={PAGE_MAX}&per_page=100")
    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize("query", ["started_from=0001-01-01", "started_to=9999-12-31",
                                   "started_from=0001-01-01&started_to=9999-12-31"])
def test_search_takes_the_first_and_last_dates_there_are(api, query):
    started = api.start()
    response = api.as_("auditor1").get(f"/api/v1/search?{query}")
    assert response.status_code == 200, response.get_json()
    assert [i["id"] for i in response.get_json()["items"]] == [started["id"]]


# ---- sizes: URI, body, reasons and names ---------------------------------------------------
def test_a_too_long_uri_is_414_json(api):
    body = _error(api.as_("auditor1").get("/api/v1/tasks?lane=" + "x" * 10_000), 414, "uri_too_long")
    assert "4096" in body["message"]


def test_a_too_large_json_body_is_413_json(api):
    text = json.dumps({"name": "x", "data": {"blob": "x" * JSON_BODY_MAX}})
    body = _error(_raw(api.bearer("supervisor1"), MESSAGES, text), 413, "too_large")
    assert str(JSON_BODY_MAX) in body["message"]


def test_a_body_over_max_content_length_is_413_json(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    text = json.dumps({"name": "x", "data": {"blob": "x" * 2000}})
    _error(_raw(api.bearer("supervisor1"), MESSAGES, text), 413, "too_large")


def test_a_long_reassign_reason_is_422_and_not_recorded(api, runtime):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    response = api.bearer("agent1").post(f"/api/v1/tasks/{task['id']}/reassign",
                                         {"to": "agent1", "reason": "x" * 1_000_000})
    body = _error(response, 422, "validation_error", "reason")
    assert str(REASON_MAX) in body["message"]
    assert "task_reassigned" not in [e["kind"] for e in runtime.events(instance["id"])]
    ok = api.bearer("agent1").post(f"/api/v1/tasks/{task['id']}/reassign", {"to": "agent1", "reason": "x" * REASON_MAX})
    assert ok.status_code == 200


def test_a_long_user_name_is_422(api):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    response = api.bearer("agent1").post(f"/api/v1/tasks/{task['id']}/reassign",
                                         {"to": "u" * (NAME_MAX + 1), "reason": "r"})
    _error(response, 422, "validation_error", "to")


def test_a_long_incident_reason_is_422(api):
    instance = api.start()
    response = api.bearer("supervisor1").post(f"/api/v1/instances/{instance['id']}/incident/resolve",
                                              {"reason": "r" * (REASON_MAX + 1)})
    _error(response, 422, "validation_error", "reason")


def test_long_free_text_in_data_is_422(api):
    response = api.bearer("agent1").post(START, {"data": {"description": "字" * (TEXT_MAX + 1)}})
    _error(response, 422, "validation_error", "data.description")


# ---- the pages ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [f"/tasks/{HUGE_ID}", f"/instances/{HUGE_ID}", f"/instances/{HUGE_ID}/audit",
                                 f"/tasks/{2**31}",
                                 "/search?started_from=0001-01-01&started_to=9999-12-31",
                                 "/?page=9223372036854775807", "/instances?page=99999999999999999999999"])
def test_pages_never_answer_500(client_for, url):
    response = client_for("auditor1").get(url)
    assert response.status_code in (200, 404, 422), (url, response.status_code)
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_page_reassign_reason_too_long_is_422(api, client_for):
    instance = api.start()
    task = api.open_task(instance["id"], "receive_complaint")
    response = client_for("agent1").post(f"/tasks/{task['id']}/reassign",
                                         {"to_user": "agent1", "reason": "x" * (REASON_MAX + 1)})
    assert response.status_code == 422
    assert str(REASON_MAX) in response.get_data(as_text=True)
