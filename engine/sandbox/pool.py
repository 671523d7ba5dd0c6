"""The engine's side of the sandbox: a few long-lived sandbox processes, a budget per call.

A call is one request to an idle sandbox process. The caller waits at most the time budget;
past it the process is killed (it is replaced on the next call) and the call fails with
`ScriptBudgetExceeded`. When the caller holds the database write lock it waits only the lock
grace: past that it gets `ScriptTooSlowUnderLock` carrying the still-running call, to finish
outside the lock (outcomes.py).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.sandbox.rules import memory_budget_mb
from engine.sandbox.wire import HEADER, MAX_FRAME, decode, encode_text

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from engine.sandbox.child import main; main()"


class SandboxProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT, str(memory_budget_mb())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={"LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}, cwd="/", close_fds=True, start_new_session=True,
        )
        self._buffer = b""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, request: str) -> None:
        self.proc.stdin.write(encode_text(request))
        self.proc.stdin.flush()

    def receive(self, deadline: float) -> dict[str, Any] | None:
        """The answer, or None if it did not come by `deadline` (time.monotonic())."""
        header = self._read(HEADER.size, deadline)
        if header is None:
            return None
        (size,) = HEADER.unpack(header)
        if size > MAX_FRAME:
            raise OSError("the sandbox answered with an oversized frame")
        body = self._read(size, deadline)
        return None if body is None else decode(body)

    def _read(self, size: int, deadline: float) -> bytes | None:
        fd = self.proc.stdout.fileno()
        while len(self._buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, max(65536, size - len(self._buffer)))
            if not chunk:
                raise OSError("the sandbox process ended")
            self._buffer += chunk
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()


@dataclass
class PendingCall:
    """A request a sandbox process is working on; `finish` waits for it or ends it at the budget."""

    pool: SandboxPool
    process: SandboxProcess
    key: tuple
    started: float
    budget: float
    answer: dict[str, Any] | None = field(default=None)

    @property
    def deadline(self) -> float:
        return self.started + self.budget

    def finish(self) -> dict[str, Any]:
        if self.answer is None:
            self.pool.wait(self, self.deadline)
        return self.answer


class SandboxPool:
    def __init__(self) -> None:
        self._idle: list[SandboxProcess] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def start(self, request: str, key: tuple, budget: float) -> PendingCall:
        process = self._take()
        try:
            process.send(request)
        except OSError:  # it died since it was last used: one fresh try
            process.kill()
            process = SandboxProcess()
            process.send(request)
        return PendingCall(self, process, key, time.monotonic(), budget)

    def wait(self, call: PendingCall, until: float) -> dict[str, Any] | None:
        """The answer if it comes by `until` (kept as `call.answer`); None leaves the call running.
        Past the call's budget the process is killed and the answer says so."""
        process = call.process
        try:
            answer = process.receive(min(until, call.deadline))
        except OSError as exc:
            process.kill()
            answer = {"ok": False, "kind": "crash", "message": f"the sandbox process failed: {exc}"}
        else:
            if answer is None and time.monotonic() < call.deadline:
                return None
            if answer is None:
                process.kill()
                answer = {"ok": False, "kind": "time", "message": f"the script ran longer than its "
                                                                f"{call.budget:g} s budget and was stopped"}
            elif answer.get("last"):  # the process ends after this answer (it ran out of memory)
                process.kill()
            elif process.alive:
                self._give_back(process)
        call.answer = answer
        return answer

    def _take(self) -> SandboxProcess:
        with self._lock:
            if self._pid != os.getpid():  # forked: the processes belong to the parent
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                process = self._idle.pop()
                if process.alive:
                    return process
        return SandboxProcess()

    def _give_back(self, process: SandboxProcess) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < 4:
                self._idle.append(process)
                return
        process.kill()

    def idle_pids(self) -> list[int]:
        """The process ids of the live sandbox processes waiting for a call (newest last)."""
        with self._lock:
            return [p.proc.pid for p in self._idle if p.alive]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for process in idle:
            process.kill()


POOL = SandboxPool()
