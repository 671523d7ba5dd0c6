"""Browser tests: a real `tourflow serve` on a fresh demo database, driven by Debian's chromium
through Playwright (the Python package only; no browser is ever downloaded).

Without /usr/bin/chromium the tests are skipped on a workstation and fail in CI (env CI set):
scripts/test.sh installs Debian's `chromium` and `fonts-noto-cjk` before running pytest.
Screenshots land in test-artifacts/screenshots/ at the repository root (gitignored), plus one
`FAILED-<test>.png` per page of a failing test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000
SERVER_START_SECONDS = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives chromium against a live server (tests/browser)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)  # read by the `page` fixture at teardown
    return report


def _unavailable(reason: str):
    """Skip on a workstation; in CI a missing browser is a failure, not a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """`tourflow serve` on a demo database of its own; `cli()` runs `tourflow` on the same database."""

    url: str
    env: dict[str, str]
    home: Path
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def cli(self, *args: str) -> str:
        exe = Path(sys.executable).with_name("tourflow")
        proc = subprocess.run([str(exe), *args], env=self.env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"tourflow {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def cli_json(self, *args: str):
        return json.loads(self.cli(*args, "--json"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"tourflow serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/login", timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise AssertionError(f"tourflow serve did not answer {server.url}/login in {SERVER_START_SECONDS}s "
                         f"({last}):\n{server.log()}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server we started (gunicorn stops its workers), then SIGKILL to its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    home = tmp_path_factory.mktemp("live")
    env = {**os.environ,
           "TOURFLOW_HOME": str(home),
           "TOURFLOW_DATABASE_URL": f"sqlite:///{home / 'tourflow.db'}",
           "TOURFLOW_SECRET_KEY": secrets.token_hex(32),
           "PYTHONUNBUFFERED": "1",
           # gunicorn's control socket defaults to $XDG_RUNTIME_DIR or ~/.gunicorn: keep ours apart
           # from any other server running on this machine.
           "XDG_RUNTIME_DIR": str(home)}
    for name in ("DATABASE_URL", "FLASK_DEBUG", "FLASK_APP"):
        env.pop(name, None)
    port = _free_port()
    server = LiveServer(url=f"http://127.0.0.1:{port}", env=env, home=home, log_path=home / "serve.log")
    server.cli("demo")
    exe = Path(sys.executable).with_name("tourflow")
    with open(server.log_path, "wb") as log:
        server.process = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
                                           "--workers", "1"],
                                          env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(server)
        yield server
    finally:
        _stop(server.process)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: install Debian's chromium and fonts-noto-cjk "
                     "(scripts/test.sh does it with apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright Python package is missing ({exc}): pip install -e '.[test]'")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # any launch failure: say why, then skip or fail
            _unavailable(f"could not launch {CHROMIUM}: {exc}")
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


class Pages:
    """Opens browser contexts (one per user, like separate browsers); collects page problems."""

    def __init__(self, browser, server: LiveServer):
        self.browser = browser
        self.server = server
        self.contexts = []
        self.problems: list[str] = []  # uncaught script errors and 5xx answers: tests assert none
        self.console_errors: list[str] = []  # printed when a test fails

    def new(self, locale: str = "zh-CN"):
        context = self.browser.new_context(base_url=self.server.url, locale=locale,
                                           viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(f"{page.url}: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"{page.url}: uncaught {exc}"))
        page.on("response", lambda r: r.status >= 500 and self.problems.append(f"HTTP {r.status} {r.url}"))
        return page

    def pages(self):
        return [page for context in self.contexts for page in context.pages]


@pytest.fixture
def pages(browser, live_server, screenshots, request):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    opened = Pages(browser, live_server)
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for n, page in enumerate(opened.pages()):
            with contextlib.suppress(Exception):  # best effort: the failure itself is reported
                page.screenshot(path=str(screenshots / f"FAILED-{name}-{n}.png"), full_page=True)
        if opened.problems or opened.console_errors:
            print("browser problems:\n  " + "\n  ".join(opened.problems + opened.console_errors))
        print(f"server log ({live_server.log_path}):\n{live_server.log()[-4000:]}")
    for context in opened.contexts:
        context.close()
