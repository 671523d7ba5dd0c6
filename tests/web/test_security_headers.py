"""Security headers on every answer (pages, API, errors), no inline script in any template,
and the TOURFLOW_SECURE_COOKIES setting."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.web import CSRF_META
from webapp import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}  # data, never run


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    parts = [d.strip().split(None, 1) for d in policy.split(";") if d.strip()]
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def _assert_secure_headers(response, personal: bool = True):
    csp = _directives(response)
    assert csp["script-src"] == "'self'", csp
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}
    if personal:
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/", "/instances", "/search", "/tasks/999999"])
def test_pages_carry_the_security_headers(client_for, url):
    response = client_for("agent1").get(url)
    assert response.status_code in {200, 404}
    _assert_secure_headers(response)


def test_the_login_page_carries_them_too(app):
    _assert_secure_headers(app.test_client().get("/login"))


@pytest.mark.parametrize("url, status", [("/api/v1/me", 200), ("/api/v1/tasks", 200),
                                         ("/api/v1/instances/999999", 404)])
def test_api_answers_carry_the_security_headers(client_for, url, status):
    response = client_for("agent1").api("GET", url)
    assert response.status_code == status
    _assert_secure_headers(response)


def test_error_answers_carry_them(app, client_for):
    _assert_secure_headers(app.test_client().get("/api/v1/me"))  # 401 JSON
    _assert_secure_headers(app.test_client().post("/login", data={"username": "x"}))  # 400 page
    _assert_secure_headers(client_for("agent1").get("/no/such/page"))  # 404 page
    _assert_secure_headers(client_for("auditor1").post("/start/complaint_handling"))  # 403 page


def test_static_files_may_be_cached_but_not_framed_or_sniffed(app):
    response = app.test_client().get("/static/app.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    _assert_secure_headers(response, personal=False)


class _ScriptFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        line = self.getpos()[0]
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"line {line}: <{tag} {name}=...> (an inline event handler)")
            if name.lower() in {"href", "src", "action", "formaction"} and (value or "").strip().lower() \
                    .startswith("javascript:"):
                self.problems.append(f"line {line}: <{tag} {name}=javascript:...>")
        if tag == "script" and not attributes.get("src") and attributes.get("type") not in DATA_SCRIPT_TYPES:
            self.problems.append(f"line {line}: <script> without src (inline script)")
        if "style" in attributes:
            self.problems.append(f"line {line}: <{tag} style=...> (an inline style)")
        if tag == "style":
            self.problems.append(f"line {line}: <style> element (an inline style)")


TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_script_or_style(template):
    finder = _ScriptFinder()
    finder.feed(template.read_text())
    finder.close()
    assert finder.problems == [], f"{template.name}: the CSP would block " + "; ".join(finder.problems)


def test_the_template_check_finds_inline_script():
    finder = _ScriptFinder()
    finder.feed('<script>alert(1)</script><button onclick="x()">b</button><a href="javascript:x()">a</a>'
                '<script type="application/json">{}</script><script src="/static/js/x.js"></script>')
    assert len(finder.problems) == 3


def _login_cookies(app) -> list[str]:
    http = app.test_client()
    token = CSRF_META.search(http.get("/login").get_data(as_text=True)).group(1)
    response = http.post("/login", data={"username": "agent1", "password": "agent1", "csrf_token": token})
    assert response.status_code == 302
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]


def _app(db_url, runtime):
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": db_url})
    app.extensions["tourflow"].use_runtime(runtime)
    return app


def test_secure_cookies_setting(db_url, runtime, monkeypatch):
    monkeypatch.delenv("TOURFLOW_SECURE_COOKIES", raising=False)
    assert all("Secure" not in c for c in _login_cookies(_app(db_url, runtime)))
    monkeypatch.setenv("TOURFLOW_SECURE_COOKIES", "1")
    cookies = _login_cookies(_app(db_url, runtime))
    assert cookies and all("; Secure" in c and "HttpOnly" in c for c in cookies)
