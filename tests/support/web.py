"""A logged-in browser-like client of the web app, keeping its session cookie and CSRF token."""

from __future__ import annotations

import html
import re

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Client:
    """A logged-in browser-like client: keeps the cookie and the CSRF token of its session."""

    def __init__(self, app, username: str | None):
        self.http = app.test_client()
        self.username = username
        self.csrf = None
        if username:
            self.login(username, username)

    def token(self) -> str:
        if self.csrf is None:
            page = self.http.get("/login" if self.username is None else "/")
            self.csrf = CSRF_META.search(page.get_data(as_text=True)).group(1)
        return self.csrf

    def login(self, username: str, password: str):
        page = self.http.get("/login").get_data(as_text=True)
        token = CSRF_META.search(page).group(1)
        response = self.http.post("/login", data={"username": username, "password": password,
                                                  "csrf_token": token})
        assert response.status_code == 302, f"login of {username} failed: {response.status_code}"
        self.csrf = None
        return response

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token())
        return self.http.post(url, data=data, **kw)

    def api(self, method: str, url: str, json=None, csrf=True):
        headers = {"X-CSRFToken": self.token()} if csrf and method != "GET" else {}
        return self.http.open(url, method=method, json=json, headers=headers)


def page_text(response) -> str:
    """A page's HTML with its entities unescaped."""
    return html.unescape(response.get_data(as_text=True))


def field_block(page: str, name: str) -> str:
    """The HTML of one generated field (from its wrapper to the next field)."""
    start_at = page.index(f'name="{name}"')
    begin = page.rindex('<div class="field', 0, start_at)
    end = page.find('<div class="field', start_at)
    return page[begin:end if end > 0 else len(page)]
