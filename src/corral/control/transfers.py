"""Pull and push progress on the control socket, to the client that asked.

A request of ``up``, ``start``, ``restart``, ``action`` or ``update`` with
``"progress": true`` hears, before its one answer line, a line
``{"v": 1, "transfer": MESSAGE}`` for each message of the daemon's
``engine.transfers.Transfers`` while it runs: every pull and push the daemon
makes meanwhile (the request's own, and any a respawn makes at the same time).
Layer lines are coalesced: at most one per layer each ``COALESCE`` seconds;
a transfer's ``done`` line always comes, before the answer. A client that did
not ask sees only the answer, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable
from typing import Any

from corral.control.protocol import encode
from corral.engine.transfers import Subscriber, Transfers

#: Seconds a layer's progress waits for its next lines.
COALESCE = 0.1


def wants_progress(line: bytes) -> bool:
    """Whether the request on ``line`` asked for progress (cheaply; ``decode``
    checks the rest)."""
    if b'"progress"' not in line:
        return False
    with contextlib.suppress(ValueError, RecursionError):
        message = json.loads(line)
        return isinstance(message, dict) and message.get("progress") is True
    return False


def _coalesced(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with only the last line of each layer (ends kept, in order)."""
    last: dict[tuple[Any, Any, Any], int] = {}
    for i, message in enumerate(messages):
        if not message.get("done"):
            last[(message.get("verb"), message.get("image"), message.get("layer"))] = i
    keep = set(last.values())
    return [m for i, m in enumerate(messages) if m.get("done") or i in keep]


def _drained(subscriber: Subscriber) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not subscriber.queue.empty():
        out.append(subscriber.queue.get_nowait())
    return out


async def answer_with_transfers(
    transfers: Transfers, answer: Awaitable[dict[str, Any]], writer: asyncio.StreamWriter
) -> dict[str, Any]:
    """``answer``'s result, the transfers made meanwhile written to ``writer`` first."""
    with transfers.subscribe() as subscriber:
        task = asyncio.ensure_future(answer)
        try:
            while not task.done():
                get = asyncio.ensure_future(subscriber.queue.get())
                await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    break
                await asyncio.wait({task}, timeout=COALESCE)  # the lines that come with it
                await _write(writer, _coalesced([get.result(), *_drained(subscriber)]))
            await _write(writer, _coalesced(_drained(subscriber)))
        except (ConnectionError, RuntimeError):
            pass  # the client went: the request still runs to its end
        return await task


async def _write(writer: asyncio.StreamWriter, messages: list[dict[str, Any]]) -> None:
    if not messages:
        return
    writer.write(b"".join(encode({"transfer": m}) for m in messages))
    await writer.drain()
