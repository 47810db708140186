"""ONE events stream per engine, fanned out to per-container subscribers.

The hub reads the Engine API's ``/events`` (container events only) and hands
each ``start``, ``die`` (with its exit code) and ``health_status`` event to
the queues subscribed to that container. When the stream breaks it
reconnects with a capped backoff and ``since`` set to the last event seen;
corral's own Podman service is started again first when it died
(``Engine.revive``). An engine that restarted has forgotten its events, so
after each reconnect every subscribed container is inspected again: one that
is gone or no longer running gets the ``die`` it would have had (``resync``),
and nobody is left waiting for a container that is dead.

Engine differences handled here: Docker's status is ``health_status:
healthy``, Podman 4.3's only ``health_status`` (the value must be read by
inspecting); Docker gives ``exitCode``, Podman also ``containerExitCode``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from corral.engine.api import ApiError, json_stream
from corral.errors import CorralError

if TYPE_CHECKING:
    from corral.engine.client import Engine

log = logging.getLogger("corral.engine")

EventKind = Literal["start", "die", "health_status"]
KINDS: tuple[EventKind, ...] = ("start", "die", "health_status")
RECONNECT_DELAY = 0.2
#: The backoff's cap: an engine that came back is seen within this many seconds
#: (a connection refused by an absent socket costs next to nothing).
RECONNECT_DELAY_MAX = 0.5


@dataclass(frozen=True)
class ContainerEvent:
    kind: EventKind
    container_id: str
    name: str
    #: For ``die``: the exit code.
    exit_code: int | None = None
    #: For ``health_status``: "healthy", "unhealthy", "starting", or None when
    #: the engine did not say (Podman 4.3) — inspect then.
    health: str | None = None
    #: Nanoseconds since the epoch, as the engine stamped it.
    time_ns: int = 0


def parse_event(raw: dict[str, Any]) -> ContainerEvent | None:
    """A ``ContainerEvent`` from one raw API event, or None when not one we use."""
    if raw.get("Type", "container") != "container":
        return None
    status = str(raw.get("status") or raw.get("Action") or "")
    head, _, value = status.partition(":")
    kind = next((k for k in KINDS if k == head), None)
    if kind is None:
        return None
    actor = raw.get("Actor") or {}
    attributes: dict[str, str] = actor.get("Attributes") or {}
    container_id = str(raw.get("id") or actor.get("ID") or "")
    exit_code: int | None = None
    if kind == "die":
        code = attributes.get("exitCode", attributes.get("containerExitCode"))
        with contextlib.suppress(TypeError, ValueError):
            exit_code = int(code) if code is not None else None
    health = value.strip() or attributes.get("health_status") or None
    return ContainerEvent(
        kind=kind,
        container_id=container_id,
        name=attributes.get("name", ""),
        exit_code=exit_code,
        health=health if kind == "health_status" else None,
        time_ns=int(raw.get("timeNano") or 0),
    )


class Subscription:
    """The events of one container (or all, for ``None``), in order."""

    def __init__(self, hub: EventHub, key: str | None) -> None:
        self._hub = hub
        self.key = key
        self.queue: asyncio.Queue[ContainerEvent] = asyncio.Queue()
        #: events stamped before this (replayed after a reconnect) are not its own
        self.since_ns = time.time_ns()

    async def get(self) -> ContainerEvent:
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[ContainerEvent]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._hub._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class EventHub:
    """The engine's single events stream, started on the first subscription."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._subscribers: dict[str | None, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._since_ns: int | None = None
        self.reconnects = 0

    def subscribe(self, container_id: str | None = None) -> Subscription:
        """Events of ``container_id`` (a full ID), or of every container for None."""
        sub = Subscription(self, container_id)
        self._subscribers[container_id].add(sub)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="corral-engine-events")
        return sub

    @property
    def live(self) -> bool:
        """Whether the stream is connected now (a broken one is being reconnected)."""
        return self._connected.is_set()

    async def connected(self, timeout: float = 10.0) -> None:
        """Wait until the stream is connected: events from then on are seen."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="corral-engine-events")
        await asyncio.wait_for(self._connected.wait(), timeout)

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.key]

    def _publish(self, event: ContainerEvent) -> None:
        for key in (event.container_id, None):
            for sub in self._subscribers.get(key, ()):
                if event.time_ns and event.time_ns < sub.since_ns:
                    continue  # from before it subscribed (a reconnect's replay)
                sub.queue.put_nowait(event)

    async def resync(self, broke_ns: int) -> None:
        """Give each subscribed container that is gone or not running the ``die``
        event it may have had while the stream was down (its exit code from
        inspect; None when it is gone), stamped ``broke_ns``, when the stream
        broke: only those who subscribed before then get it (a container
        started again since is not dead)."""
        from corral.engine.containers import inspect

        keys = [k for k in self._subscribers if k is not None]
        try:
            found = await asyncio.gather(*(inspect(self._engine, key) for key in keys))
        except Exception as exc:  # the stream reconnects (and resyncs) again
            log.warning("%s: inspecting containers after reconnecting: %s",
                        self._engine.runtime, exc)  # fmt: skip
            raise
        for key, data in zip(keys, found, strict=True):
            state = (data or {}).get("State") or {}
            if data is not None and (state.get("Running") or state.get("Status") == "created"):
                continue
            code = state.get("ExitCode") if data is not None else None
            self._publish(ContainerEvent(
                kind="die", container_id=key, name=str((data or {}).get("Name", "")).lstrip("/"),
                exit_code=int(code) if code is not None else None,
                time_ns=broke_ns,
            ))  # fmt: skip

    async def _run(self) -> None:
        delay = RECONNECT_DELAY
        broken = False
        broke_ns = 0
        while True:
            params: dict[str, str] = {"filters": json.dumps({"type": ["container"]})}
            if self._since_ns is not None:
                # Resume just after the last event seen (seconds.nanoseconds).
                s, ns = divmod(self._since_ns + 1, 1_000_000_000)
                params["since"] = f"{s}.{ns:09d}"
            try:
                if broken:
                    await self._engine.revive()
                async with self._engine.api.stream("GET", "/events", params) as response:
                    # The headers arrived: events from now on reach this stream.
                    if self._since_ns is None:
                        # From now on a reconnect resumes here rather than missing events.
                        self._since_ns = time.time_ns()
                    # connected now: what subscribes from here on hears its events (the
                    # resync's, stamped when the stream broke, are not for it)
                    self._connected.set()
                    if broken:
                        await self.resync(broke_ns)
                        log.warning("%s events stream reconnected", self._engine.runtime)
                        broken = False
                    delay = RECONNECT_DELAY
                    async for raw in json_stream(response):
                        if raw.get("timeNano"):
                            self._since_ns = int(raw["timeNano"])
                        event = parse_event(raw)
                        if event is not None:
                            self._publish(event)
            except (ApiError, OSError, CorralError) as exc:
                if not broken:
                    log.warning("%s events stream broke: %s", self._engine.runtime, exc)
            finally:
                self._connected.clear()
            if not broken:
                broke_ns = time.time_ns()
            broken = True
            self.reconnects += 1
            log.info("%s events stream ended; reconnecting", self._engine.runtime)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_DELAY_MAX)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._connected.clear()
