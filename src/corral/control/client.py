"""The synchronous client the CLI uses; it imports nothing heavy.

Every request has a deadline (``timeout`` seconds for the whole exchange:
connect, send, answer); missing it raises ``TimedOut`` saying what was being
waited for. The client talks only to a daemon run by root or by its own user
(``privacy.trusted``, from the socket's peer credentials).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

from corral import privacy
from corral.control.protocol import VERSION


class NoDaemon(Exception):
    """Nothing answers on the socket."""


class RequestFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TimedOut(Exception):
    """The daemon did not answer within the deadline; the message says what was awaited."""


def connect(connection: socket.socket, path: str) -> None:
    """Connect to the daemon on ``path``; ``NoDaemon`` when none answers there, or
    when the one that does is run by neither root nor this user."""
    try:
        connection.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        raise NoDaemon(f"no corral daemon answers on {path} (start one with `corral up`)") from None
    except PermissionError:
        raise NoDaemon(f"not allowed to talk to the corral daemon on {path}") from None
    server = privacy.peer_uid(connection)
    if not privacy.trusted(server):
        raise NoDaemon(
            f"refusing the socket {path}: it is served by uid {server}, not by root or you"
        )


def request(
    path: str,
    op: str,
    timeout: float | None = 30.0,
    on_transfer: Callable[[dict[str, Any]], None] | None = None,
    **arguments: Any,
) -> dict[str, Any]:
    """Send one request; the answer's results, or ``RequestFailed`` / ``NoDaemon``
    / ``TimedOut`` (``timeout`` None: no deadline). With ``on_transfer``, the
    request asks for the progress of the pulls and pushes made meanwhile, and
    each message goes to it (``corral.control.transfers``)."""
    if on_transfer is not None:
        arguments["progress"] = True
    deadline = None if timeout is None else time.monotonic() + timeout
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def remaining(what: str) -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimedOut(f"no answer to `{op}` within {timeout:g} s: {what} on {path}")
        connection.settimeout(left)
        return left

    what = "connecting to the daemon"
    try:
        remaining(what)
        connect(connection, path)
        line = json.dumps({"v": VERSION, "op": op, **arguments}).encode() + b"\n"
        what = "sending the request"
        remaining(what)
        connection.sendall(line)
        what = f"waiting for the daemon to finish `{op}`"
        data = b""
        while True:
            head, newline, rest = data.partition(b"\n")
            if newline and head.startswith(b'{"v":1,"transfer":'):
                if on_transfer is not None:
                    on_transfer(json.loads(head)["transfer"])
                data = rest
                continue
            if newline:
                data = head
                break
            remaining(what)
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        raise TimedOut(f"no answer to `{op}` within {timeout:g} s: {what} on {path}") from None
    finally:
        connection.close()
    if not data:
        raise RequestFailed("failed", "the daemon closed the connection without answering")
    answer: dict[str, Any] = json.loads(data)
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise RequestFailed(str(error.get("code", "failed")), str(error.get("message", "failed")))
    return answer


def answers(path: str, timeout: float = 2.0) -> bool:
    try:
        request(path, "ping", timeout=timeout)
    except (NoDaemon, RequestFailed, TimedOut, OSError):
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
