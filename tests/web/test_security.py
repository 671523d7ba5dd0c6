"""Session cookie flags, login-only pages, and no open redirects after login."""

from __future__ import annotations

import re

import pytest

from .conftest import CSRF_META


def test_session_cookie_is_httponly_and_samesite(app):
    http = app.test_client()
    token = CSRF_META.search(http.get("/login").get_data(as_text=True)).group(1)
    response = http.post("/login", data={"username": "agent1", "password": "agent1", "csrf_token": token})
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "login sets the session cookie"
    assert all("HttpOnly" in c and re.search(r"SameSite=Lax", c) for c in cookies)


@pytest.mark.parametrize("url", ["/", "/start", "/instances", "/instances/1", "/tasks/1", "/processes"])
def test_every_page_but_login_needs_a_session(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 302 and response.location.startswith("/login")


def test_wrong_password_is_refused_without_saying_which_part(client_for):
    anonymous = client_for(None)
    page = anonymous.get("/login").get_data(as_text=True)
    token = CSRF_META.search(page).group(1)
    response = anonymous.http.post("/login", data={"username": "agent1", "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_login_never_redirects_off_site(app, target):
    http = app.test_client()
    token = CSRF_META.search(http.get("/login").get_data(as_text=True)).group(1)
    response = http.post(f"/login?next={target}", data={"username": "agent1", "password": "agent1",
                                                        "csrf_token": token})
    assert response.status_code == 302 and response.location == "/"


def test_login_without_csrf_is_refused(app):
    response = app.test_client().post("/login", data={"username": "agent1", "password": "agent1"})
    assert response.status_code == 400
