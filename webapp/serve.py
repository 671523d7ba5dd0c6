"""`tourflow serve`: gunicorn in production (Werkzeug where it is missing), plus a job worker.

The job worker is a `tourflow worker` child process rather than a thread of the gunicorn
master: the master forks web workers, and a fork taken while another thread holds a lock
can leave the child stuck. The child gets SIGTERM when the server stops (and, on Linux,
when the server dies).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from webapp import create_app


def serve_app(host: str, port: int, workers: int, echo: Callable[[str], None] = print,
              job_worker: bool = True) -> None:
    app = create_app()
    app.extensions["tourflow"].runtime  # noqa: B018 - migrate once, before the workers fork
    echo(f"tourflow inbox on http://{host}:{port}/  (database: {app.config['DATABASE_URL']})")
    child = _start_job_worker(app.config["DATABASE_URL"], echo) if job_worker else None
    try:
        _run_server(app, host, port, workers)
    finally:
        if child is not None:
            _stop(child)


SHARED_MEMORY_DIR = "/dev/shm"

PORT_IN_USE = {
    "en": "port {port} is in use: tourflow serve --port {free}",
    "zh": "端口 {port} 已被占用：请改用 tourflow serve --port {free}",
}


def port_in_use(host: str, port: int) -> bool:
    """Would binding host:port fail because something listens there? (Bound as gunicorn binds,
    with SO_REUSEADDR, so a port left in TIME_WAIT by a stopped server counts as free.)"""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return False  # the server reports an unknown host itself
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def free_port_after(host: str, port: int, tries: int = 50) -> int:
    """The first free port above `port` (to suggest), else one the system picks."""
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        if not port_in_use(host, candidate):
            return candidate
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use_message(host: str, port: int, lang: str) -> str:
    return PORT_IN_USE.get(lang, PORT_IN_USE["en"]).format(port=port, free=free_port_after(host, port))


def _run_server(app, host: str, port: int, workers: int) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        app.run(host=host, port=port, threaded=True)
        return

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            # gunicorn's control socket lives in ~/.gunicorn by default: two servers on one
            # machine would share it, and we have no use for it.
            self.cfg.set("control_socket_disable", True)
            # gunicorn's own limit (4094) answers a plain-text 400; past URI_MAX the app answers a JSON 414.
            self.cfg.set("limit_request_line", 8190)
            # Each worker touches a heartbeat file on every pass of its event loop (at least once per
            # request); in memory that is no disk metadata write (gunicorn's own advice for Docker/VMs).
            if os.path.isdir(SHARED_MEMORY_DIR) and os.access(SHARED_MEMORY_DIR, os.W_OK):
                self.cfg.set("worker_tmp_dir", SHARED_MEMORY_DIR)

        def load(self):
            return create_app()

    Server().run()


def _start_job_worker(database_url: str, echo: Callable[[str], None]) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("tourflow")
    if exe.exists():
        command = [str(exe), "worker"]
    else:
        command = [sys.executable, "-c", "from webapp.cli import main; main()", "worker"]
    env = {**os.environ, "TOURFLOW_DATABASE_URL": database_url}
    child = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    echo(f"job worker started (pid {child.pid})")
    return child


def _die_with_parent() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
