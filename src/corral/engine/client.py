"""One Engine API connection per engine, with aiodocker.

Docker: the daemon's socket (``/var/run/docker.sock`` by default). Podman:
its Docker-compatible API, served by ``podman system service`` on
``/run/corral/podman.sock``, which corral starts itself when nothing answers
there. Checked against dockerd 20.10 and Podman 4.3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiodocker
import aiohttp

from corral.errors import CorralError

if TYPE_CHECKING:
    from corral.engine.events import EventHub

log = logging.getLogger("corral.engine")

DOCKER_SOCKET = "/var/run/docker.sock"
PODMAN_SOCKET = "/run/corral/podman.sock"
SERVICE_START_TIMEOUT = 30.0


class EngineError(CorralError):
    """The engine's API could not be reached or refused a request."""


async def socket_answers(path: str, timeout: float = 5.0) -> bool:
    """True when an Engine API answers ``/_ping`` on the Unix socket ``path``."""
    if not os.path.exists(path):
        return False
    connector = aiohttp.UnixConnector(path=path)
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as session,
            session.get("http://engine/_ping") as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


@dataclass
class PodmanService:
    """A ``podman system service`` corral started (None when one already answered)."""

    path: str
    process: asyncio.subprocess.Process | None

    async def stop(self) -> None:
        """Stop the service if corral started it."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def ensure_podman_service(path: str = PODMAN_SOCKET) -> PodmanService:
    """Make Podman's compatible API answer on ``path``; start
    ``podman system service --time=0 unix://PATH`` when nothing answers."""
    if await socket_answers(path):
        return PodmanService(path, None)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a stale socket of a dead service
    argv = ["podman", "system", "service", "--time=0", f"unix://{path}"]
    log.debug("starting %s", " ".join(argv))
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise EngineError(f"cannot start podman system service: {exc}") from exc
    deadline = asyncio.get_running_loop().time() + SERVICE_START_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        if await socket_answers(path, timeout=2):
            return PodmanService(path, process)
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    service = PodmanService(path, process)
    await service.stop()
    err = b""
    if process.stderr is not None:
        err = await process.stderr.read()
    raise EngineError(
        f"podman system service did not answer on {path} within "
        f"{SERVICE_START_TIMEOUT:g}s: {err.decode(errors='replace').strip()[-500:]}"
    )


@dataclass
class Engine:
    """One engine: its runtime name (the CLI), its API client and its single
    events stream (``engine.events``, started on first use)."""

    runtime: str
    socket: str
    api: aiodocker.Docker
    service: PodmanService | None = None
    _events: EventHub | None = field(default=None, repr=False)

    @property
    def events(self) -> EventHub:
        if self._events is None:
            from corral.engine.events import EventHub

            self._events = EventHub(self)
        return self._events

    async def close(self) -> None:
        """Close the connection and the events stream (a Podman service corral
        started keeps running; stop it with ``engine.service.stop()``)."""
        if self._events is not None:
            await self._events.close()
        await self.api.close()


async def connect(runtime: str, socket: str | None = None) -> Engine:
    """Open the Engine API of ``runtime`` ("docker" or "podman")."""
    service: PodmanService | None = None
    if runtime == "podman":
        service = await ensure_podman_service(socket or PODMAN_SOCKET)
        path = service.path
    elif runtime == "docker":
        path = socket or DOCKER_SOCKET
    else:
        raise EngineError(f"unknown runtime {runtime!r}: expected docker or podman")
    api = aiodocker.Docker(url=f"unix://{path}")
    try:
        await api.version()
    except (aiodocker.DockerError, aiohttp.ClientError, OSError) as exc:
        await api.close()
        raise EngineError(f"{runtime}: no Engine API answers on {path}: {exc}") from exc
    return Engine(runtime, path, api, service)
