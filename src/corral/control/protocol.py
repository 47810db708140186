"""The control protocol: one JSON object per line, versioned, errors as data.

Request:  ``{"v": 1, "op": "status", ...arguments}``
Answer:   ``{"v": 1, "ok": true, ...results}`` or
          ``{"v": 1, "ok": false, "error": {"code": "...", "message": "..."}}``

Error codes: ``bad-request`` (malformed, unknown op or version, a missing,
unknown or mistyped argument — the message names it; a line longer than
``MAX_LINE``), ``failed`` (the operation failed; the message says why),
``invalid-config`` (the configuration named in the request is invalid),
``forbidden`` (the peer is neither root nor the daemon's own user: its
request is not acted on; see ``corral.privacy``).

Every op's arguments are declared once, in ``ARGUMENTS``; ``decode`` checks a
request against them, so a handler only ever sees arguments of the right type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VERSION = 1
MAX_LINE = 1 << 20


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Arg:
    """One argument of an op: its JSON type and whether it may be left out (or null)."""

    kind: str  # "string", "boolean", "list of strings"
    optional: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if self.kind == "string":
            return isinstance(value, str)
        if self.kind == "boolean":
            return isinstance(value, bool)
        return isinstance(value, list) and all(isinstance(v, str) for v in value)


#: ``progress``: hear the pulls and pushes made meanwhile (``corral.control.transfers``)
_PROGRESS = {"progress": Arg("boolean", optional=True)}
_NAMES = {"names": Arg("list of strings")}
_NAMES_PROGRESS = {**_NAMES, **_PROGRESS}
#: Every op and its arguments (besides ``v`` and ``op``).
ARGUMENTS: dict[str, dict[str, Arg]] = {
    "ping": {},
    "status": {"name": Arg("string", optional=True)},
    "start": _NAMES_PROGRESS,
    "stop": _NAMES,
    "restart": _NAMES_PROGRESS,
    "enable": _NAMES,
    "disable": _NAMES,
    "action": {"name": Arg("string"), "action": Arg("string"), **_PROGRESS},
    "up": _PROGRESS,
    "down": {"volumes": Arg("boolean", optional=True)},
    "plan": {"config": Arg("string")},
    "reload": {"config": Arg("string")},
    "log_source": {"name": Arg("string")},
    "update": {
        "config": Arg("string"),
        "names": Arg("list of strings", optional=True),
        "dry_run": Arg("boolean", optional=True),
        **_PROGRESS,
    },
    #: streams a status line on each change (``corral.control.watch``)
    "watch": {"name": Arg("string", optional=True)},
}


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps({"v": VERSION, **message}, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """The request on ``line``, checked against its op's arguments."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError("bad-request", "not a JSON line") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad-request", "a message is a JSON object")
    version = message.get("v")
    if type(version) is not int or version != VERSION:
        raise ProtocolError("bad-request", f"v: unsupported protocol version {_show(version)}")
    op = message.get("op")
    if not isinstance(op, str):
        raise ProtocolError("bad-request", f"op: expected a string, got {_show(op)}")
    arguments = ARGUMENTS.get(op)
    if arguments is None:
        raise ProtocolError("bad-request", f"op: unknown op {_show(op)}")
    known = ("v", "op", *arguments)
    problems = [f"{k}: unknown argument of {op}" for k in message if k not in known]
    for key, arg in arguments.items():
        value = message.get(key)
        if key not in message and not arg.optional:
            problems.append(f"{key}: missing ({arg.kind})")
        elif not arg.accepts(value):
            problems.append(f"{key}: expected {arg.kind}, got {_show(value)}")
    if problems:
        raise ProtocolError("bad-request", "; ".join(problems))
    return message


def _show(value: Any, most: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= most else text[: most - 1] + "…"


def ok(**results: Any) -> dict[str, Any]:
    return {"ok": True, **results}


def error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}
