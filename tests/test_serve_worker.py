"""`tourflow serve` runs a job worker beside the web server, and stops it when it stops."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.workers import TOURFLOW, Workers, all_completed, start_many, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose: it runs nothing.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_serve_fires_timers_through_its_worker_and_stops_it_on_sigterm(timer_runtime, db_url, tmp_path):
    rt = timer_runtime
    ids = start_many(rt, 3, spread=1)
    env = Workers(db_url, tmp_path).env  # the test handlers, for the worker the server starts
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([TOURFLOW, "serve", "--port", str(free_port()), "--workers", "1"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(all_completed(rt, ids), Workers(db_url, tmp_path), 60, "the server's worker to fire the timers")
        child = int(re.search(r"job worker started \(pid (\d+)\)", log_path.read_text()).group(1))
        assert alive(child)
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child), "the job worker stopped with the server"
    finally:
        if server.poll() is None:
            server.kill()
    assert "stopped after" in log_path.read_text()


def test_serve_without_job_worker_starts_none(db_url, tmp_path):
    env = Workers(db_url, tmp_path).env
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([TOURFLOW, "serve", "--port", str(free_port()), "--workers", "1",
                                   "--no-job-worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "Booting worker" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Booting worker" in log_path.read_text()
        assert "job worker started" not in log_path.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
