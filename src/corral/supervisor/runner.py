"""The runner seam: how a service's owner starts, watches and stops the thing it
supervises, whatever it is (a host process, a container through the engine API).

A runner is stateless towards the owner: ``start`` returns a ``Handle`` and
every other call receives it back, as Shepherd's ``start`` returns a running
value that ``stop`` receives. A runner never changes a service's state; it
reports, and the owner decides. Errors are ``CorralError``s whose message is
one line a person can read (it becomes the service's ``reason``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from corral.supervisor.engines import EngineHub
from corral.supervisor.logs import LogFiles
from corral.supervisor.reaper import Reaper
from corral.supervisor.respawn import Clock

T = TypeVar("T")


@dataclass(frozen=True)
class Handle:
    """What ``start`` returns: ``id`` is a pid or a container id (shown in status)."""

    id: str
    pid: int | None = None


class Runner(Protocol):
    #: True when the service is done once its command exits 0 (one_shot).
    one_shot: bool

    async def start(self) -> Handle:
        """Launch the service; return as soon as it is launched."""
        ...

    async def ready(self, handle: Handle) -> None:
        """Return once the service is ready; raise ``CorralError`` on failure or timeout."""
        ...

    async def wait(self, handle: Handle) -> int | None:
        """The exit status once the service ends (None when it cannot be known)."""
        ...

    async def stop(self, handle: Handle) -> int | None:
        """Stop gracefully, then by force; the exit status."""
        ...

    def describe(self, handle: Handle) -> str:
        """A short text for people, like ``pid 1234``."""
        ...

    def command_line(self) -> list[str]:
        """The argv this runner starts (the `command-line` action)."""
        ...

    def details(self, handle: Handle | None) -> dict[str, Any]:
        """Kind-specific status fields (a container's id and health); may be empty."""
        ...


@dataclass
class RunContext:
    """What runners share inside the daemon."""

    clock: Clock
    reaper: Reaper
    logs: LogFiles
    state_dir: str
    engines: EngineHub


async def within(clock: Clock, awaitable: Awaitable[T], seconds: float) -> tuple[bool, T | None]:
    """Await ``awaitable`` for at most ``seconds`` of ``clock`` time: (finished, result).

    On timeout a coroutine is cancelled; a future passed in is left alone."""
    task = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if task.done():
        return True, task.result()
    if task is not awaitable:
        task.cancel()
    return False, None
