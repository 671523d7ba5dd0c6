"""A throwaway PostgreSQL server for the test suite, or the one named by TOURFLOW_TEST_POSTGRES_URL.

`start_server()` finds Debian's server binaries (/usr/lib/postgresql/<version>/bin, the newest),
runs `initdb` into a fresh temporary folder and `pg_ctl start` on a free port of 127.0.0.1, with
durability switched off (a test database is thrown away anyway). Running as root it does all of
that as the `postgres` OS user, since PostgreSQL refuses to run as root. `PostgresServer.stop()`
stops it (`pg_ctl -m immediate stop`) and removes the folder.

With TOURFLOW_TEST_POSTGRES_URL set (a SQLAlchemy URL such as
postgresql+psycopg://user@host:5432/postgres, whose user may create databases) nothing is started:
the tests create and drop their databases on that server.

Anything that prevents a server raises `PostgresUnavailable` with the reason; tests/conftest.py
turns it into a skip on a workstation and a failure in CI.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

ENV_URL = "TOURFLOW_TEST_POSTGRES_URL"
PG_ROOT = Path("/usr/lib/postgresql")
OS_USER = "postgres"  # the account the server runs as when we are root
SUPERUSER = "postgres"  # the database superuser initdb creates
START_SECONDS = 60
SERVER_OPTIONS = [
    "-c", "listen_addresses='127.0.0.1'",
    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
    "-c", "max_connections=200",
]


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be had; the message says why and what to do."""


@dataclass
class PostgresServer:
    """A server the tests may create databases on; `url` is its maintenance database."""

    url: str
    data_dir: Path | None = None  # set when we started the server ourselves
    base_dir: Path | None = None
    bin_dir: Path | None = None
    run_as: str | None = None
    log_path: Path | None = None
    stopped: bool = field(default=False, repr=False)

    @property
    def started_here(self) -> bool:
        return self.data_dir is not None

    def url_for(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def log(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        if self.stopped or not self.started_here:
            return
        self.stopped = True
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                 self.run_as, timeout=60)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def find_bin_dir(root: Path | None = None) -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = []
    for candidate in (root or PG_ROOT).glob("*/bin"):
        if (candidate / "pg_ctl").is_file() and (candidate / "initdb").is_file():
            version = tuple(int(part) for part in re.findall(r"\d+", candidate.parent.name))
            found.append((version, candidate))
    return max(found)[1] if found else None


def start_server() -> PostgresServer:
    """The server of TOURFLOW_TEST_POSTGRES_URL, or a fresh throwaway one; PostgresUnavailable if neither."""
    url = os.environ.get(ENV_URL)
    if url:
        if make_url(url).get_backend_name() != "postgresql":
            raise PostgresUnavailable(f"{ENV_URL}={url!r} is not a PostgreSQL URL "
                                      "(expected postgresql+psycopg://user@host:port/db)")
        _check_connects(url)
        return PostgresServer(url=url)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(f"no PostgreSQL server binaries (pg_ctl, initdb) under {PG_ROOT}/*/bin: "
                                  "install Debian's postgresql package (scripts/test.sh does it with apt-get) "
                                  f"or set {ENV_URL} to an existing server")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            raise PostgresUnavailable(f"running as root and there is no {OS_USER!r} OS user to run "
                                      "PostgreSQL as (it refuses to run as root)") from None
        run_as = OS_USER
    last_error = ""
    for _attempt in range(3):  # a free port can be taken between choosing it and the server binding it
        try:
            server = _start(bin_dir, run_as)
        except _PortTaken as exc:
            last_error = str(exc)
            continue
        atexit.register(server.stop)  # a backstop: the session fixture normally stops it first
        return server
    raise PostgresUnavailable(f"could not start PostgreSQL on a free port: {last_error}")


class _PortTaken(Exception):
    pass


def _start(bin_dir: Path, run_as: str | None) -> PostgresServer:
    # tempfile's folder (TMPDIR or /tmp), not pytest's per-user basetemp: that one is mode 0700
    # and owned by root, so the postgres user could not reach a data dir inside it.
    base = Path(tempfile.mkdtemp(prefix="tourflow-pg-"))
    data, sockets, log = base / "data", base / "sock", base / "server.log"
    sockets.mkdir()
    if run_as:
        account = pwd.getpwnam(run_as)
        for path in (base, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    server = PostgresServer(url="", data_dir=data, base_dir=base, bin_dir=bin_dir, run_as=run_as, log_path=log)
    try:
        init = _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                     "--locale=C", "--no-sync", "--no-instructions"], run_as, timeout=120)
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        port = _free_port()
        options = " ".join(["-p", str(port), "-k", str(sockets), *SERVER_OPTIONS])
        started = _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", str(START_SECONDS),
                        "-o", options, "start"], run_as, timeout=START_SECONDS + 30)
        if started.returncode != 0:
            text = server.log()
            if "could not bind" in text or "Address already in use" in text:
                raise _PortTaken(text.strip().splitlines()[-1] if text.strip() else f"port {port}")
            raise PostgresUnavailable(f"pg_ctl start failed ({started.returncode}):\n"
                                      f"{started.stdout}{started.stderr}\nserver log:\n{text}")
    except BaseException:
        server.stop()
        raise
    server.url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
    return server


def _check_connects(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise PostgresUnavailable(f"cannot connect to {ENV_URL}={make_url(url)!r}: "
                                  f"{str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def _run(args: list[str], run_as: str | None, timeout: float) -> subprocess.CompletedProcess:
    """Run a PostgreSQL tool, as `run_as` (we are root) or as ourselves."""
    kwargs = {}
    if run_as:
        account = pwd.getpwnam(run_as)
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [],
                  "env": {**os.environ, "HOME": account.pw_dir, "USER": run_as, "LOGNAME": run_as},
                  "cwd": "/"}
    # pg_ctl's server writes to the -l log file, so these pipes close when pg_ctl returns.
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          check=False, **kwargs)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
