"""A container's stdout/stderr through the Engine API: followed into a log
file from the first byte, or the last lines read back for ``corral logs``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from corral.engine.api import ApiError, log_stream, path_of
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
    params: dict[str, bool | float] = {"stdout": True, "stderr": True, "follow": True}
    if since is not None:
        params["since"] = since
    written = 0
    try:
        async for data in output(engine, container_id, params):
            write(data)
            written += len(data)
    except ApiError as exc:
        if exc.status != 404:
            raise EngineError(f"logs of {container_id[:12]}: {exc.message}") from exc
    return written


async def output(
    engine: Engine, name_or_id: str, params: Mapping[str, bool | float | int | str]
) -> AsyncIterator[bytes]:
    """The container's output from ``/containers/ID/logs``, out of its frames
    (a container with a TTY has none)."""
    data = await engine.api.get(path_of("containers", name_or_id, "json"))
    tty = bool(((data or {}).get("Config") or {}).get("Tty"))
    logs = path_of("containers", name_or_id, "logs")
    async with engine.api.stream("GET", logs, params) as response:
        async for chunk in log_stream(response, tty):
            yield chunk


async def tail(engine: Engine, name_or_id: str, n: int = 10) -> list[str]:
    """The last ``n`` lines the engine logged for the container (no newline)."""
    params = {"stdout": True, "stderr": True, "tail": n}
    try:
        chunks = [data async for data in output(engine, name_or_id, params)]
    except ApiError as exc:
        raise EngineError(f"logs of {name_or_id}: {exc.message}") from exc
    text = b"".join(chunks).decode(errors="replace")
    return text.splitlines()[-n:] if n > 0 else []
