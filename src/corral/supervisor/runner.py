"""The runner seam: how a service's owner starts, watches and stops the thing it
supervises, whatever it is (a host process, a container through the engine API).

A runner holds its declaration and the daemon's shared context, and nothing
about any run: ``start`` returns a ``Handle`` — the running value, as
Shepherd's ``start`` returns one that ``stop`` receives — and every other call
gets it back. What one run needs (a container's ID, its exit watch, its
health) lives in the handle, which the owner keeps; the handle of the last run
is given to the next ``start`` (a respawn sets the dead container aside).
A runner never changes a service's state; it reports, and the owner decides.
Errors are ``CorralError``s whose message is one line a person can read (it
becomes the service's ``reason``).

Every task a run needs is started through its ``RunScope``, in the owner's
TaskGroup: none outlives the owner, and none fails without a line in the
daemon's log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from corral.errors import CorralError
from corral.supervisor.changes import Changes
from corral.supervisor.engines import EngineHub
from corral.supervisor.logs import LogFiles
from corral.supervisor.reaper import Reaper
from corral.supervisor.respawn import Clock

T = TypeVar("T")

log = logging.getLogger("corral.supervisor")


class EngineAway(CorralError):
    """A start failed because the engine it needs does not answer (``what``:
    which engine, at which socket). Not the service's fault: its owner waits
    for ``until()`` to return (the engine answers again), and starts it then,
    without counting the failure against the respawn limit."""

    def __init__(
        self, message: str, what: str, until: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        super().__init__(message)
        self.what = what
        self.until = until


@dataclass(frozen=True)
class Handle:
    """What ``start`` returns: ``id`` is a pid or a container id (shown in status);
    ``run`` is the runner's own record of this run."""

    id: str
    pid: int | None = None
    run: Any = field(default=None, compare=False, repr=False)


class RunScope:
    """The owner's TaskGroup, as one run of service ``service`` uses it."""

    def __init__(self, group: asyncio.TaskGroup, service: str, owner: RunScope | None = None):
        self._group = group
        self.service = service
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def _track(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def spawn(self, coroutine: Coroutine[Any, Any, object], what: str) -> asyncio.Task[None]:
        """A helper of this run (a log follower, a health watch): cancelled when the
        run ends; a failure is logged, never raised into the owner."""
        return self._track(self._group.create_task(self._logged(coroutine, what)))

    def detach(self, coroutine: Coroutine[Any, Any, object], what: str) -> asyncio.Task[None]:
        """Work that outlives this run but not the owner (removing a dead container)."""
        scope = self._owner or self
        return scope.spawn(coroutine, what)

    def future(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coroutine`` beside the caller, which awaits the outcome (its
        error is the caller's to report); cancelled when the run ends."""
        outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def carry() -> None:
            try:
                result = await coroutine
            except asyncio.CancelledError:
                outcome.cancel()
                raise
            except BaseException as error:
                if not outcome.done():
                    outcome.set_exception(error)
            else:
                if not outcome.done():
                    outcome.set_result(result)

        task = self._track(self._group.create_task(carry()))
        outcome.add_done_callback(lambda done: task.cancel() if done.cancelled() else None)
        return outcome

    async def _logged(self, coroutine: Coroutine[Any, Any, object], what: str) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("%s: %s failed: %s", self.service, what, _one_line(error))

    def close(self) -> None:
        """End the run: cancel its helpers."""
        for task in list(self._tasks):
            task.cancel()


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class Runner(Protocol):
    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        """Launch the service; return as soon as it is launched. ``previous`` is the
        handle of the run before (None for the first)."""
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

    async def command_line(self) -> list[str]:
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
    #: The daemon's runtime directory (its socket's): corral's secret tmpfs is under it.
    runtime_dir: str = ""
    #: Where every service change is said (status page, ``status --watch``).
    changes: Changes = field(default_factory=Changes)

    @property
    def secrets_dir(self) -> str:
        from corral.supervisor.secrets import secrets_dir

        if not self.runtime_dir:
            raise CorralError("this corral has no runtime directory for secret files")
        return secrets_dir(self.runtime_dir)


async def within(clock: Clock, awaitable: asyncio.Future[T], seconds: float) -> bool:
    """Wait for ``awaitable`` for at most ``seconds`` of ``clock`` time; whether it
    finished. The future itself is left alone either way."""
    timer: asyncio.Future[Any] = asyncio.ensure_future(clock.sleep(seconds))
    waited: set[asyncio.Future[Any]] = {awaitable, timer}
    try:
        await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return awaitable.done()
