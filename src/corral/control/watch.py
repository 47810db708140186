"""``watch``: the control socket's one streaming request (``corral status --watch``).

Request: ``{"v": 1, "op": "watch", "name": NAME or null}``. Answer: a status
line now (``status``'s answer), then another each time a service changes —
woken by the supervisor's change broadcast, never by a timer; a burst of
changes within ``COALESCE`` seconds gives one line. The stream ends when the
client closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from corral.control.protocol import ProtocolError, decode, encode, error, ok
from corral.errors import CorralError
from corral.supervisor.supervisor import Supervisor

OP = "watch"
#: Seconds a change waits for the changes that come with it.
COALESCE = 0.05


def watch_request(line: bytes) -> dict[str, Any] | None:
    """The request on ``line`` when it is a ``watch``, else None (cheaply)."""
    if b'"watch"' not in line:
        return None
    with contextlib.suppress(ProtocolError):
        message = decode(line)
        if message.get("op") == OP:
            return message
    return None


async def stream_status(
    supervisor: Supervisor,
    message: dict[str, Any],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    name = message.get("name")
    name = None if name is None else str(name)
    gone = asyncio.ensure_future(reader.read(1))
    try:
        with supervisor.changes.subscribe() as subscription:
            while True:
                try:
                    line = ok(services=supervisor.status(name))
                except CorralError as problem:
                    writer.write(encode(error("failed", str(problem))))
                    await writer.drain()
                    return
                writer.write(encode(line))
                await writer.drain()
                while True:
                    step = asyncio.ensure_future(subscription.next())
                    await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
                    if not step.done():
                        step.cancel()
                        return
                    if name is None or name in step.result():
                        break
                await asyncio.sleep(COALESCE)
    finally:
        gone.cancel()
