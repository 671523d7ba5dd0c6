"""The sandbox process: reads (code, data) requests on stdin, answers on stdout, for ever.

Started by pool.py as `python -I` with an empty environment. Before the first request it caps
its address space (the memory budget), forbids writing files and dumping core, and leaves the
working directory for `/`. Nothing here touches the database, the network or the engine.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from typing import Any

from engine.sandbox.compiler import compile_checked
from engine.sandbox.guards import FIXED_NAMES, GUARDS, SandboxViolation, scope
from engine.sandbox.rules import MAX_RESULT_BYTES
from engine.sandbox.wire import HEADER, decode, encode


def main() -> None:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    _limit_self(memory_mb)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        (size,) = HEADER.unpack(header)
        request = decode(stdin.read(size))
        answer, fatal = _answer(request)
        answer["last"] = fatal
        stdout.write(encode(answer))
        stdout.flush()
        if fatal:  # after a MemoryError the interpreter is better replaced than trusted
            return


def _limit_self(memory_mb: int) -> None:
    os.chdir("/")
    baseline = _address_space_bytes()
    limit = baseline + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _address_space_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 512 * 1024 * 1024


def _answer(request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    source, mode = request["source"], request["mode"]
    try:
        code = compile_checked(source, mode)
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        return {"ok": False, "kind": "refused", "message": str(exc)}, False
    data = request["data"]
    env = {**scope(data, request["now"], request.get("calendar")), **request.get("extra", {}), **data, **GUARDS}
    try:
        if mode == "eval":
            result: dict[str, Any] = {"ok": True, "value": eval(code, env)}  # noqa: S307 - guarded, see compiler
        else:
            exec(code, env)  # noqa: S102 - guarded, see compiler
            result = {"ok": True, "data": _data_after(env, data, request.get("extra", {}))}
        text = json.dumps(result, ensure_ascii=False, allow_nan=True)
    except MemoryError:
        return {"ok": False, "kind": "memory", "message": "the script ran out of its memory budget"}, True
    except RecursionError:
        return {"ok": False, "kind": "memory", "message": "the script nested too deeply"}, False
    except SandboxViolation as exc:
        return {"ok": False, "kind": "refused", "message": str(exc), "line": _line()}, False
    except TypeError as exc:
        if "JSON serializable" in str(exc):
            return {"ok": False, "kind": "error", "message": f"the script left a value that is not plain data: "
                                                           f"{exc}"}, False
        return _failed(exc), False
    except Exception as exc:  # noqa: BLE001 - reported to the engine, which records it
        return _failed(exc), False
    if len(text) > MAX_RESULT_BYTES:
        return {"ok": False, "kind": "memory", "message": f"the script produced more than "
                                                        f"{MAX_RESULT_BYTES // (1024 * 1024)} MB of data"}, False
    return result, False


def _data_after(env: dict[str, Any], before: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The task data after a script: what it had and what the script set, without the functions."""
    return {key: value for key, value in env.items()
            if key in before or (key not in FIXED_NAMES and key not in extra)}


def _failed(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "kind": "error", "message": f"{type(exc).__name__}: {exc}"[:2000], "line": _line()}


def _line() -> int | None:
    frames = [frame for frame in traceback.extract_tb(sys.exc_info()[2]) if frame.filename == "<script>"]
    return frames[-1].lineno if frames else None


if __name__ == "__main__":
    main()
