"""The daemon's engine connections: one per runtime, opened on first use.

Every container service of a runtime shares its connection and its single
events stream, so supervision costs O(1) engine connections, not a CLI
process per container as the seed's foreground ``docker run`` did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from corral.engine.transfers import Transfers
from corral.errors import CorralError

if TYPE_CHECKING:
    from corral.config import Config
    from corral.engine.client import Engine
    from corral.engine.endpoint import Endpoint
    from corral.runtimes import Runtime

#: Engine calls that create or start containers, at most this many at once:
#: more only makes the engine thrash (it is what `docker-compose` does too).
INFLIGHT = 8
#: Seconds between looks at an engine that went away: doubling up to the cap.
WAIT_DELAY = 0.05
WAIT_DELAY_MAX = 0.2

T = TypeVar("T")


class EngineHub:
    """The daemon's connection to each runtime, at the endpoint ``endpoints`` names."""

    def __init__(self, endpoints: Callable[[Runtime], Endpoint]) -> None:
        self.endpoints = endpoints
        self._engines: dict[str, Engine] = {}
        self._lock = asyncio.Lock()
        self._flights: dict[str, asyncio.Future[Any]] = {}
        #: bounds the container creations and starts in flight
        self.gate = asyncio.Semaphore(INFLIGHT)
        #: every pull and push of the daemon's engines, layer by layer
        self.transfers = Transfers()

    @classmethod
    def for_config(cls, config: Config | None, state_dir: str) -> EngineHub:
        """The hub of a daemon serving ``config`` from ``state_dir``."""
        from corral.engine.endpoint import endpoint_for

        return cls(lambda runtime: endpoint_for(config, runtime, state_dir))

    async def get(self, runtime: Runtime) -> Engine:
        """The connection to ``runtime``, opened if needed (corral's own Podman
        service started again first, when it died)."""
        async with self._lock:
            engine = self._engines.get(runtime)
            if engine is None:
                from corral.engine.client import connect

                engine = await connect(self.endpoints(runtime))
                engine.transfers = self.transfers
                self._engines[runtime] = engine
        if engine.service_died():
            await engine.revive()
        return engine

    async def answers(self, runtime: Runtime) -> bool:
        """Whether ``runtime``'s engine answers now (within a ping's timeout)."""
        from corral.engine.client import PING_TIMEOUT, socket_answers

        return await socket_answers(self.endpoints(runtime).socket, PING_TIMEOUT)

    async def wait_answers(self, runtime: Runtime) -> None:
        """Return once ``runtime``'s engine answers again: polled with a capped
        backoff (corral's own Podman service started again meanwhile), once for
        every service waiting for it."""

        async def poll() -> None:
            delay = WAIT_DELAY
            while True:
                if self.endpoints(runtime).own_service:
                    with contextlib.suppress(CorralError, OSError):
                        engine = await self.get(runtime)
                        await engine.revive()
                if await self.answers(runtime):
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, WAIT_DELAY_MAX)

        await self.once(f"{runtime} answers", poll)

    async def once(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """``work()``, shared by every caller asking for ``key`` while it runs
        (so fifty containers of one image inspect or load it once). The first
        caller does the work in its own task; should it be cancelled, the next
        waiting caller takes over."""
        while True:
            flight = self._flights.get(key)
            if flight is None:
                flight = asyncio.get_running_loop().create_future()
                self._flights[key] = flight
                try:
                    result = await work()
                except BaseException as error:
                    if isinstance(error, asyncio.CancelledError):
                        flight.set_result(_RETRY)
                    else:
                        flight.set_exception(error)
                        flight.exception()  # retrieved: each waiter re-raises its own copy
                    raise
                else:
                    flight.set_result(result)
                    return result
                finally:
                    self._flights.pop(key, None)
            outcome = await asyncio.shield(flight)
            if outcome is not _RETRY:
                done: T = outcome
                return done

    def connected(self) -> list[Engine]:
        return list(self._engines.values())

    async def close(self) -> None:
        """Close every connection; a Podman API service corral started is stopped."""
        for engine in self._engines.values():
            await engine.close()
            if engine.service is not None:
                await engine.service.stop()
        self._engines.clear()


#: What a cancelled leader of ``EngineHub.once`` leaves its followers: try again.
_RETRY: Any = object()
