"""Framing between the engine and its sandbox process: a 4-byte length, then UTF-8 JSON."""

from __future__ import annotations

import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    return encode_text(json.dumps(message, ensure_ascii=False, allow_nan=True))


def encode_text(text: str) -> bytes:
    body = text.encode("utf-8", "surrogatepass")
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    return json.loads(body.decode("utf-8", "surrogatepass"))
