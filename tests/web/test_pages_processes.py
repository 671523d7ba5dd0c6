"""Process pages: owners, auditors and managers see the deployed versions, their lint findings and diagrams."""

from __future__ import annotations

import html

from engine.bpmn.lint_model import Finding
from webapp import processes


def test_processes_page_lists_versions_with_lint_results(client_for):
    for user in ("owner1", "auditor1"):
        response = client_for(user).get("/processes")
        assert response.status_code == 200
        page = html.unescape(response.get_data(as_text=True))
        assert "游客投诉处理流程" in page and "complaint_handling" in page
        assert 'href="/processes/complaint_handling/1"' in page and "v1" in page
        assert "检查通过，没有发现问题" in page, "the shipped process is lint-clean"
        assert "部署人 owner1" in page


def test_lint_findings_are_listed_with_severity_rule_line_and_message(client_for, monkeypatch):
    processes.LINT_FINDINGS.clear()
    monkeypatch.setattr(processes, "lint_bytes", lambda data, filename, forms_dir: [
        Finding(filename, 42, 7, "warning", "task-without-documentation", "用户任务缺少操作说明"),
        Finding(filename, 50, 3, "error", "dangling-flow", "sequence flow has no target"),
    ])
    try:
        page = html.unescape(client_for("owner1").get("/processes").get_data(as_text=True))
    finally:
        processes.LINT_FINDINGS.clear()
    assert '<span class="badge sev-warning">警告</span>' in page and '<span class="badge sev-error">错误</span>' in page
    assert "<code>task-without-documentation</code>" in page and "42:7" in page and "用户任务缺少操作说明" in page
    assert "检查通过" not in page


def test_version_page_has_the_diagram_container(client_for):
    response = client_for("owner1").get("/processes/complaint_handling/1")
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    assert ('<div id="diagram" class="diagram" '
            'data-diagram-url="/api/v1/processes/complaint_handling/versions/1/diagram"></div>') in raw
    assert '<script src="/static/js/diagram.js"></script>' in raw
    assert "检查通过，没有发现问题" in raw
    assert client_for("owner1").get("/processes/complaint_handling/9").status_code == 404
    assert client_for("owner1").get("/processes/nothing/1").status_code == 404


def test_processes_pages_refused_to_other_roles_and_anonymous(client_for):
    for url in ("/processes", "/processes/complaint_handling/1"):
        for user in ("agent1", "qc1", "supervisor1"):
            assert client_for(user).get(url).status_code == 403, (user, url)
        response = client_for(None).get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_lint_findings_of_deployed_versions_are_kept_in_a_bounded_cache(monkeypatch):
    processes.LINT_FINDINGS.clear()
    monkeypatch.setattr(processes.LINT_FINDINGS, "maxsize", 3)
    try:
        for n in range(10):
            processes.findings_of(f'<definitions id="d{n}"/>', f"f{n}.bpmn")
        assert len(processes.LINT_FINDINGS) == 3
    finally:
        processes.LINT_FINDINGS.clear()
