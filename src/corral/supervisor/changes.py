"""The one place that says a service changed: a broadcast, and a short memory.

Every service owner reports its state after each transition; the container
runner reports health changes; the supervisor reports services it adopts or
forgets. Watchers (the status page's server-sent events, ``corral status
--watch`` over the control socket) ``subscribe`` and wake up with the set of
names that changed since they last looked, so a burst of changes costs them
one look, and nobody polls. Listeners (the page's metrics) hear of each
status transition as it happens.

It also keeps the last hour of each service's status transitions, for the
page's restart history: bounded, so a crash loop costs a fixed amount.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from corral.supervisor.state import State, Status

#: Transitions kept per service (a crash loop every second fills it in ~4 min).
KEPT = 512
#: Seconds of history kept.
HORIZON = 3600.0


@dataclass(frozen=True)
class Transition:
    """``name`` went from ``before`` to ``after`` at wall-clock ``when``."""

    name: str
    when: float
    before: Status
    after: Status
    #: a start by the respawn policy (restarts went up)
    respawn: bool
    #: for starting → running: seconds since the start was requested
    start_seconds: float | None = None


class Subscription:
    """The names that changed since the last ``next()``."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        self._wake = asyncio.Event()

    def add(self, name: str) -> None:
        self._names.add(name)
        self._wake.set()

    async def next(self) -> set[str]:
        """Wait for a change; the names changed since the last call."""
        await self._wake.wait()
        self._wake.clear()
        names, self._names = self._names, set()
        return names


class Changes:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._listeners: list[Callable[[Transition], None]] = []
        self._history: dict[str, deque[Transition]] = {}

    def changed(self, name: str, before: State | None = None, after: State | None = None) -> None:
        """``name`` changed (its state from ``before`` to ``after``, when known)."""
        if before is not None and after is not None and before.status != after.status:
            started = None
            if before.status == "starting" and after.status == "running":
                started = max(0.0, after.since - before.since)
            transition = Transition(
                name, after.since, before.status, after.status,
                after.restarts > before.restarts, started,
            )  # fmt: skip
            kept = self._history.setdefault(name, deque(maxlen=KEPT))
            kept.append(transition)
            while kept and kept[0].when < transition.when - HORIZON:
                kept.popleft()
            for listener in self._listeners:
                listener(transition)
        for subscription in self._subscriptions:
            subscription.add(name)

    def forget(self, name: str) -> None:
        """``name`` is no longer declared."""
        self._history.pop(name, None)
        self.changed(name)

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def listen(self, listener: Callable[[Transition], None]) -> None:
        """Call ``listener`` with every status transition from now on."""
        self._listeners.append(listener)

    def history(self, name: str, since: float) -> list[Transition]:
        """``name``'s transitions at or after wall-clock ``since`` (oldest first)."""
        return [t for t in self._history.get(name, ()) if t.when >= since]
