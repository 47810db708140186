"""A container's stdout/stderr through the Engine API: followed into a log
file from the first byte, or the last lines read back for ``corral logs``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import aiodocker

from corral.engine.client import Engine, EngineError


class _Appender:
    """Appends to ``path``, reopening it when it was rotated away (moved or
    removed), as for processes' log files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] = open(path, "ab")  # noqa: SIM115 - closed in close()

    def write(self, data: bytes) -> None:
        try:
            current = os.stat(self.path)
            moved = (current.st_ino, current.st_dev) != (
                os.fstat(self._fh.fileno()).st_ino,
                os.fstat(self._fh.fileno()).st_dev,
            )
        except FileNotFoundError:
            moved = True
        if moved:
            self._fh.close()
            self._fh = open(self.path, "ab")  # noqa: SIM115
        self._fh.write(data)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


async def follow_to_file(
    engine: Engine, container_id: str, path: str | Path, since: float | None = None
) -> int:
    """Append the container's stdout and stderr to ``path`` — from its first
    byte, or from ``since`` (seconds since the epoch) — until it stops.
    Returns the number of bytes written."""
    handle = engine.api.containers.container(container_id)
    params: dict[str, int | float] = {}
    if since is not None:
        params["since"] = since
    out = _Appender(Path(path))
    written = 0
    try:
        async for chunk in handle.log(stdout=True, stderr=True, follow=True, **params):
            data = chunk.encode()
            out.write(data)
            written += len(data)
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise EngineError(f"logs of {container_id[:12]}: {exc.message}") from exc
    finally:
        out.close()
    return written


async def tail(engine: Engine, name_or_id: str, n: int = 10) -> list[str]:
    """The last ``n`` lines the engine logged for the container (no newline)."""
    handle = engine.api.containers.container(name_or_id)
    try:
        chunks: list[str] = await handle.log(stdout=True, stderr=True, tail=n)
    except aiodocker.DockerError as exc:
        raise EngineError(f"logs of {name_or_id}: {exc.message}") from exc
    return "".join(chunks).splitlines()[-n:] if n > 0 else []
