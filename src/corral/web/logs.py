"""A service's log as the page follows it: its last lines, then what comes.

A log file corral writes is read from its end and polled for more (a
rotated file is read to its end, then the new one from its start); a
container's log kept by the engine is followed over the daemon's own engine
connection, across restarts (``engine.enginelog``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator

from corral.supervisor.supervisor import Supervisor
from corral.supervisor.tail import tail

LINES = 200
POLL = 0.25


async def follow_log(supervisor: Supervisor, name: str, lines: int = LINES) -> AsyncIterator[bytes]:
    """The last ``lines`` of ``name``'s log, then each chunk written to it."""
    source = supervisor.log_source(name)
    if "container" in source:
        async for chunk in _engine(supervisor, source["runtime"], source["container"], lines):
            yield chunk
        return
    async for chunk in _file(source["path"], lines):
        yield chunk


async def _file(path: str, lines: int) -> AsyncIterator[bytes]:
    first = io.BytesIO()
    position = tail(path, lines, first)
    if first.getvalue():
        yield first.getvalue()
    handle = None
    try:
        while True:
            if handle is None:
                with contextlib.suppress(FileNotFoundError):
                    handle = open(path, "rb")  # noqa: SIM115 - kept while following
                    handle.seek(position)
            if handle is not None:
                data = handle.read(65536)
                if data:
                    yield data
                    continue
                with contextlib.suppress(FileNotFoundError):
                    status = os.stat(path)
                    if status.st_ino != os.fstat(handle.fileno()).st_ino or (
                        status.st_size < handle.tell()
                    ):
                        handle.close()
                        handle, position = None, 0  # rotated or truncated: the new one
                        continue
            await asyncio.sleep(POLL)
    finally:
        if handle is not None:
            handle.close()


async def _engine(
    supervisor: Supervisor, runtime: str, name: str, lines: int
) -> AsyncIterator[bytes]:
    from corral.engine.enginelog import engine_log

    engine = await supervisor.context.engines.get(runtime)  # type: ignore[arg-type]
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)

    def write(data: bytes) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a reader too slow loses lines
            queue.put_nowait(data)

    task = asyncio.ensure_future(engine_log(engine, name, lines, True, write))
    try:
        while True:
            getting = asyncio.ensure_future(queue.get())
            await asyncio.wait({getting, task}, return_when=asyncio.FIRST_COMPLETED)
            if getting.done():
                yield getting.result()
                continue
            getting.cancel()
            task.result()  # the follow ended: its error, if any
            return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
