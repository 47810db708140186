"""A container's stdout/stderr through the Engine API: followed into a log
file from the first byte, or the last lines read back for ``corral logs``."""

from __future__ import annotations

from collections.abc import Callable

import aiodocker

from corral.engine.client import Engine, EngineError


async def follow(
    engine: Engine,
    container_id: str,
    write: Callable[[bytes], object],
    since: float | None = None,
) -> int:
    """Hand the container's stdout and stderr to ``write`` — from its first
    byte, or from ``since`` (seconds since the epoch) — until it stops.
    Returns the number of bytes written. The daemon passes its rotating log
    file's ``write``, so container logs rotate as processes' do."""
    handle = engine.api.containers.container(container_id)
    params: dict[str, int | float] = {}
    if since is not None:
        params["since"] = since
    written = 0
    try:
        async for chunk in handle.log(stdout=True, stderr=True, follow=True, **params):
            data = chunk.encode()
            write(data)
            written += len(data)
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise EngineError(f"logs of {container_id[:12]}: {exc.message}") from exc
    return written


async def tail(engine: Engine, name_or_id: str, n: int = 10) -> list[str]:
    """The last ``n`` lines the engine logged for the container (no newline)."""
    handle = engine.api.containers.container(name_or_id)
    try:
        chunks: list[str] = await handle.log(stdout=True, stderr=True, tail=n)
    except aiodocker.DockerError as exc:
        raise EngineError(f"logs of {name_or_id}: {exc.message}") from exc
    return "".join(chunks).splitlines()[-n:] if n > 0 else []
