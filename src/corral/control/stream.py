"""The client side of ``watch``: status answers as the daemon sends them.

Synchronous and light, like ``client``: the CLI imports nothing heavy.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

from corral.control.client import RequestFailed, connect
from corral.control.protocol import VERSION


def watch(path: str, name: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Each status the daemon sends (the first at once), until it closes."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connect(connection, path)  # refuses a daemon run by another user, as requests do
        request = {"v": VERSION, "op": "watch", "name": name}
        connection.sendall(json.dumps(request).encode() + b"\n")
        for line in connection.makefile("rb"):
            answer: dict[str, Any] = json.loads(line)
            if not answer.get("ok"):
                problem = answer.get("error") or {}
                raise RequestFailed(
                    str(problem.get("code", "failed")), str(problem.get("message", "failed"))
                )
            yield list(answer["services"])
    finally:
        connection.close()
