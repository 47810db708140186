"""One Engine API per engine (``corral.engine.api``: h11 over its Unix socket).

Where each engine is is the endpoint's business (``corral.engine.endpoint``).
Podman's Docker-compatible API is served by ``podman system service``; on the
socket of corral's own (``<state_dir>/podman.sock``) corral starts it when
nothing answers there. Checked against dockerd 20.10 and Podman 4.3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from corral.engine.api import ApiError, EngineApi, Unreachable
from corral.engine.endpoint import Endpoint
from corral.errors import CorralError
from corral.runtimes import Runtime

if TYPE_CHECKING:
    from corral.engine.events import EventHub
    from corral.engine.transfers import Transfers

log = logging.getLogger("corral.engine")

SERVICE_START_TIMEOUT = 30.0
#: Seconds a ``/_ping`` that checks whether an engine is there may take.
PING_TIMEOUT = 3.0


class EngineError(CorralError):
    """The engine's API could not be reached or refused a request."""


class EngineUnreachable(EngineError):
    """No Engine API answers at ``endpoint`` (absent, refusing, or not answering)."""

    def __init__(self, endpoint: Endpoint, why: str) -> None:
        super().__init__(f"{endpoint} does not answer: {why}")
        self.endpoint = endpoint


async def socket_answers(path: str, timeout: float = 5.0) -> bool:
    """True when an Engine API answers ``/_ping`` on the Unix socket ``path``."""
    if not os.path.exists(path):
        return False

    try:
        await EngineApi(path).get("/_ping", timeout=timeout)
    except (ApiError, OSError):
        return False
    return True


@dataclass
class PodmanService:
    """The ``podman system service`` behind a socket, when corral owns it.

    ``pid`` is None when a service corral did not start answered already. The
    service runs in its own session with its output in ``PATH.log`` and its pid
    in ``PATH.pid``, so it outlives a daemon killed with -9 and the next daemon
    takes it over (and stops it when it stops). ``started``: this process
    started it (a ``corral image load`` at the terminal stops only such a one,
    never the daemon's)."""

    path: str
    pid: int | None
    #: started by this process (not taken over from an earlier daemon)
    started: bool = False

    async def stop(self) -> None:
        """Stop the service if corral owns it: SIGTERM, then SIGKILL after 10 s.
        Rootless, ``podman`` re-executes itself in the user namespace and the
        service is that child, in the same process group: every ``podman system
        service`` of the group is signalled (not the network helpers beside it,
        slirp4netns and rootlessport, which carry the containers' traffic)."""
        if self.pid is None or not _alive(self.pid):
            return
        _signal(self._pids(), signal.SIGTERM)
        for _ in range(100):
            if not self._pids():
                break
            await asyncio.sleep(0.1)
        else:
            _signal(self._pids(), signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path + ".pid")

    def _pids(self) -> list[int]:
        """The live processes of this service: its first one and, when that leads
        its own process group, each ``podman system service`` in the group."""
        if self.pid is None:
            return []
        pids = [self.pid] if _alive(self.pid) else []
        if _group_of(self.pid) not in (self.pid, None):
            return pids
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.pid:
                continue
            pid = int(entry)
            if _group_of(pid) == self.pid and _is_service(pid) and _alive(pid):
                pids.append(pid)
        return pids


def _signal(pids: list[int], signo: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signo)


def _group_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(") ", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def _is_service(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except OSError:
        return False
    return b"system" in argv and b"service" in argv


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _owned_pid(path: str) -> int | None:
    """The pid in ``PATH.pid`` when it is a live podman service, else None."""
    try:
        with open(path + ".pid") as stream:
            pid = int(stream.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"system" in argv and b"service" in argv and _alive(pid) else None


async def ensure_podman_service(path: str) -> PodmanService:
    """Make Podman's compatible API answer on ``path``; start
    ``podman system service --time=0 unix://PATH`` when nothing answers."""
    if await socket_answers(path):
        return PodmanService(path, _owned_pid(path))
    earlier = _owned_pid(path)
    if earlier is not None:
        # Ours from before (a daemon killed with -9 left it), alive but slow to
        # answer (busy, or a loaded host): wait for it rather than start a second
        # service beside it on a socket unlinked from under it; one that never
        # answers is stopped first, never left running unowned.
        old = PodmanService(path, earlier)
        deadline = asyncio.get_running_loop().time() + SERVICE_START_TIMEOUT
        while asyncio.get_running_loop().time() < deadline and _alive(earlier):
            if await socket_answers(path, timeout=2):
                return old
            await asyncio.sleep(0.1)
        await old.stop()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a stale socket of a dead service
    argv = ["podman", "system", "service", "--time=0", f"unix://{path}"]
    log.debug("starting %s", " ".join(argv))
    with open(path + ".log", "ab") as output:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineError(f"cannot start podman system service: {exc}") from exc
    with open(path + ".pid", "w") as pid_file:
        pid_file.write(f"{process.pid}\n")
    service = PodmanService(path, process.pid, started=True)
    deadline = asyncio.get_running_loop().time() + SERVICE_START_TIMEOUT
    while asyncio.get_running_loop().time() < deadline and process.poll() is None:
        if await socket_answers(path, timeout=2):
            return service
        await asyncio.sleep(0.1)
    await service.stop()
    raise EngineError(
        f"podman system service did not answer on {path} within "
        f"{SERVICE_START_TIMEOUT:g}s: {_tail(path + '.log')}"
    )


def _tail(path: str, size: int = 500) -> str:
    try:
        with open(path, "rb") as stream:
            stream.seek(max(0, os.path.getsize(path) - size))
            return stream.read().decode(errors="replace").strip()
    except OSError:
        return "(no log)"


@dataclass
class Engine:
    """One engine: its endpoint, its API and its single events stream
    (``engine.events``, started on first use).

    The connection is not cached: each request opens its own, so an engine
    that restarted is simply reached again. What corral owns is restarted
    when it died: ``revive`` starts corral's own Podman service again (the
    events stream calls it before each reconnect, the hub before handing the
    engine out)."""

    endpoint: Endpoint
    api: EngineApi
    service: PodmanService | None = None
    #: where its pulls and pushes report their layers (the daemon's hub sets it)
    transfers: Transfers | None = None
    _events: EventHub | None = field(default=None, repr=False)
    _reviving: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def answers(self, timeout: float = PING_TIMEOUT) -> bool:
        """Whether the engine answers ``/_ping`` within ``timeout`` seconds now."""
        return await socket_answers(self.socket, timeout)

    def service_died(self) -> bool:
        """Whether corral's own Podman service behind this engine is gone."""
        service = self.service
        return bool(
            self.endpoint.own_service
            and service is not None
            and service.pid is not None
            and not _alive(service.pid)
        )

    async def revive(self) -> bool:
        """Start corral's own Podman service again if it died (or nothing
        answers on its socket any more); whether it was restarted."""
        if not self.endpoint.own_service:
            return False
        async with self._reviving:
            alive = self.service is not None and not self.service_died()
            if alive and (self.service is not None and self.service.pid is not None):
                return False  # ours, and running
            if alive and await self.answers():
                return False  # one corral did not start, answering
            was = self.service.pid if self.service is not None else None
            self.service = await ensure_podman_service(self.socket)
            if self.service.started:
                log.warning(
                    "podman system service on %s (pid %s) had died; restarted it (pid %s)",
                    self.socket, was, self.service.pid,
                )  # fmt: skip
            return self.service.started

    @property
    def runtime(self) -> Runtime:
        return self.endpoint.runtime

    @property
    def socket(self) -> str:
        return self.endpoint.socket

    @property
    def events(self) -> EventHub:
        if self._events is None:
            from corral.engine.events import EventHub

            self._events = EventHub(self)
        return self._events

    async def close(self) -> None:
        """Close the events stream (a Podman service corral started keeps
        running; stop it with ``engine.service.stop()``)."""
        if self._events is not None:
            await self._events.close()


async def connect(endpoint: Endpoint, *, start_service: bool = True) -> Engine:
    """Open the Engine API at ``endpoint``; for Podman's own service, start it
    first when nothing answers there (unless ``start_service`` is false)."""
    service: PodmanService | None = None
    if endpoint.own_service and start_service:
        service = await ensure_podman_service(endpoint.socket)
    api = EngineApi(endpoint.socket)
    try:
        await api.get("/_ping", timeout=30)
    except (ApiError, OSError) as exc:
        why = exc.why if isinstance(exc, Unreachable) else str(exc)
        raise EngineUnreachable(endpoint, why) from exc
    return Engine(endpoint, api, service)
