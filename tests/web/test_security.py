"""Session cookie flags, login-only pages, and no open redirects after login."""

from __future__ import annotations

import re

import pytest

from tests.support.web import CSRF_META


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


def test_processes_starting_together_share_one_secret_key(tmp_path, monkeypatch):
    """serve, its worker and CLI commands may all start before any key exists: they race to
    create it, and every one of them must end up signing sessions with the same key."""
    import multiprocessing

    monkeypatch.delenv("TOURFLOW_SECRET_KEY", raising=False)
    ctx = multiprocessing.get_context("fork")
    for round_ in range(10):
        folder = tmp_path / str(round_)
        start, results = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_key_for, args=(folder, start, results)) for _ in range(8)]
        for proc in procs:
            proc.start()
        keys = [results.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join()
        assert len(set(keys)) == 1 and len(keys[0]) == 64, keys
        assert [p.name for p in folder.iterdir()] == ["secret_key"]
        assert (folder / "secret_key").stat().st_mode & 0o777 == 0o600


def _key_for(folder, start, results):
    from webapp import shared_secret_key

    start.wait()
    try:
        results.put(shared_secret_key(folder))
    except Exception as error:  # reported to the test, which shows it
        results.put(repr(error))
