"""Issue 16: the API and the processes page deploy several .bpmn files, or one .zip, together."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.support.api import Api

MULTI = Path(__file__).parents[1] / "fixtures" / "bpmn" / "thirdparty" / "multi"
TOUR, PAYMENT = MULTI / "tour_booking.bpmn", MULTI / "payment.bpmn"


def _upload(*files: tuple[str, bytes]) -> dict:
    return {"files": [(io.BytesIO(data), name) for name, data in files]}


def _pair() -> dict:
    return _upload((TOUR.name, TOUR.read_bytes()), (PAYMENT.name, PAYMENT.read_bytes()))


@pytest.fixture
def api(app, runtime):
    return Api(app, runtime, language="en")  # these tests read the English messages (Accept-Language: en)


def test_api_deploys_several_files_together(api):
    owner = api.bearer(api.token_for("owner1"))
    response = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data", data=_pair())
    assert response.status_code == 201
    body = response.get_json()
    assert [(d["process_id"], d["version"], d["created"]) for d in body["deployments"]] == [
        ("Process_0tour01", 1, True), ("Process_1pay000", 1, True)]
    assert body["process_id"] == "Process_0tour01"
    again = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data", data=_pair())
    assert (again.status_code, [d["created"] for d in again.get_json()["deployments"]]) == (200, [False, False])


def test_api_deploys_a_zip(api):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("set/tour_booking.bpmn", TOUR.read_bytes())
        archive.writestr("set/payment.bpmn", PAYMENT.read_bytes())
    owner = api.bearer(api.token_for("owner1"))
    response = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data",
                          data=_upload(("set.zip", out.getvalue())))
    assert response.status_code == 201
    assert len(response.get_json()["deployments"]) == 2


def test_api_refuses_the_set_with_the_reason(api, runtime):
    owner = api.bearer(api.token_for("owner1"))
    response = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data",
                          data=_upload((TOUR.name, TOUR.read_bytes())))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "deployment_invalid"
    assert [f["rule"] for f in body["findings"] if f["severity"] == "error"] == ["call-target-missing"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("../payment.bpmn", PAYMENT.read_bytes())
    escaping = owner.call("POST", "/api/v1/deployments", content_type="multipart/form-data",
                          data=_upload(("x.zip", out.getvalue())))
    assert escaping.status_code == 422 and "points outside the zip" in escaping.get_json()["message"]
    with runtime.reading() as session:
        from engine.run import queries
        assert [d["process_id"] for d in queries.deployments(session)] == ["complaint_handling"]


@pytest.mark.parametrize("user", ["agent1", "qc1", "supervisor1", "manager1", "auditor1"])
def test_only_owners_deploy_several_files(api, user):
    response = api.bearer(api.token_for(user)).call("POST", "/api/v1/deployments",
                                                    content_type="multipart/form-data", data=_pair())
    assert response.status_code == 403


def test_the_page_deploys_several_files(client_for):
    response = client_for("owner1").post("/processes/deploy", data=_pair(), content_type="multipart/form-data",
                                         follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Process_0tour01" in page and "Process_1pay000" in page
