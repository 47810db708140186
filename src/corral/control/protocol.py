"""The control protocol: one JSON object per line, versioned, errors as data.

Request:  ``{"v": 1, "op": "status", ...arguments}``
Answer:   ``{"v": 1, "ok": true, ...results}`` or
          ``{"v": 1, "ok": false, "error": {"code": "...", "message": "..."}}``

Error codes: ``bad-request`` (malformed, unknown op or version), ``failed``
(the operation failed; the message says why), ``invalid-config`` (the
configuration named in the request is invalid).
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1
MAX_LINE = 1 << 20


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps({"v": VERSION, **message}, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        raise ProtocolError("bad-request", "not a JSON line") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad-request", "a message is a JSON object")
    if message.get("v") != VERSION:
        raise ProtocolError("bad-request", f"unsupported protocol version {message.get('v')!r}")
    return message


def ok(**results: Any) -> dict[str, Any]:
    return {"ok": True, **results}


def error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}
