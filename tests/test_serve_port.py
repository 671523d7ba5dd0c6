"""`tourflow serve` on a port something else listens on: one clear line naming a free port, exit 1,
no gunicorn retries and no worker started in vain."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def suggested_port(line: str) -> int:
    return int(re.search(r"tourflow serve --port (\d+)$", line).group(1))


def test_a_taken_port_is_named_with_a_free_one_and_serve_exits_1(cli, taken_port):
    result = cli.run("serve", "--port", str(taken_port), "--workers", "1")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"port {taken_port} is in use: tourflow serve --port ")
    free = suggested_port(line)
    assert free != taken_port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", free))  # the port suggested is free
    assert "Errno 98" not in result.stdout + result.stderr
    assert "job worker started" not in result.stdout and "Booting worker" not in result.stderr


def test_the_message_is_chinese_with_lang_zh_or_tourflow_lang_zh(cli, taken_port):
    chinese = cli.run("serve", "--lang", "zh", "--port", str(taken_port))
    assert chinese.returncode == 1
    assert chinese.stderr.strip().startswith(f"端口 {taken_port} 已被占用：请改用 tourflow serve --port ")
    cli.env["TOURFLOW_LANG"] = "zh"
    assert cli.run("serve", "--port", str(taken_port)).stderr == chinese.stderr
    assert cli.run("serve", "--lang", "en", "--port", str(taken_port)).stderr.startswith(f"port {taken_port} is in use")
