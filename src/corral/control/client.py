"""The synchronous client the CLI uses; it imports nothing heavy."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from corral.control.protocol import VERSION


class NoDaemon(Exception):
    """Nothing answers on the socket."""


class RequestFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def request(path: str, op: str, timeout: float | None = 30.0, **arguments: Any) -> dict[str, Any]:
    """Send one request; the answer's results, or ``RequestFailed`` / ``NoDaemon``."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        try:
            connection.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            raise NoDaemon(
                f"no corral daemon answers on {path} (start one with `corral up`)"
            ) from None
        except PermissionError:
            raise NoDaemon(f"not allowed to talk to the corral daemon on {path}") from None
        line = json.dumps({"v": VERSION, "op": op, **arguments}).encode() + b"\n"
        connection.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        connection.close()
    if not data:
        raise RequestFailed("failed", "the daemon closed the connection without answering")
    answer: dict[str, Any] = json.loads(data)
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise RequestFailed(str(error.get("code", "failed")), str(error.get("message", "failed")))
    return answer


def answers(path: str) -> bool:
    try:
        request(path, "ping", timeout=2.0)
    except (NoDaemon, RequestFailed, OSError):
        return False
    return True


def wait_gone(path: str, timeout: float = 10.0) -> bool:
    """Wait until no daemon answers on ``path`` (after ``down``); whether it went."""
    deadline = time.monotonic() + timeout
    while answers(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
