"""``corral logs`` of a container whose log stays with the engine (no
``log_file``): the engine's log over its API at the service's endpoint,
written straight to the terminal, and with ``follow`` carried across
restarts — when a container ends, the next one of the same name is followed
from its first byte.

This runs in the client, not the daemon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from corral.engine.client import Engine, EngineError, connect
from corral.engine.containers import inspect
from corral.engine.endpoint import Endpoint
from corral.engine.logs import output

#: Seconds between looks for the next container of a service while following.
POLL = 0.5


async def show_engine_log(
    endpoint: Endpoint, name: str, lines: int, follow: bool, write: Callable[[bytes], object]
) -> None:
    """Write the last ``lines`` of container ``name``'s log; with ``follow``, keep
    writing across restarts until cancelled. ``EngineError`` when there is no
    such container (and not following)."""
    engine = await connect(endpoint)
    try:
        await engine_log(engine, name, lines, follow, write)
    finally:
        await engine.close()
        if engine.service is not None and engine.service.started:
            await engine.service.stop()  # started for this (a daemon's own is left alone)


async def engine_log(
    engine: Engine, name: str, lines: int, follow: bool, write: Callable[[bytes], object]
) -> None:
    """``show_engine_log`` on a connection the caller holds (the daemon's)."""
    params: dict[str, bool | int | str] = {"stdout": True, "stderr": True, "tail": lines}
    if not follow:
        if await inspect(engine, name) is None:
            raise EngineError(f"no container {name} on {engine.endpoint}")
        async for chunk in output(engine, name, params):
            write(chunk)
        return
    last: str | None = None
    while True:
        data = await inspect(engine, name)
        current = str(data["Id"]) if data is not None else None
        if current is not None and current != last:
            async for chunk in output(engine, current, {**params, "follow": True}):
                write(chunk)
            last = current
            params["tail"] = "all"  # the next container is followed from its first byte
        await asyncio.sleep(POLL)
