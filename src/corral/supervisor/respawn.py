"""The respawn policy: a pure function of recent start times and the last run.

Shepherd's rule, with backoff: a service that died is started again after a
delay that starts at ``respawn_delay``, doubles on each quick death up to
``DELAY_CAP`` and goes back to ``respawn_delay`` after a run longer than
``stable_after``. Once ``limit_starts`` starts fall within ``limit_seconds``
the service is disabled, with a reason a person can read in ``status``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

DELAY_CAP = 30.0


class Clock(Protocol):
    """Time as the supervisor sees it; tests inject a fake one."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RespawnPolicy:
    limit_starts: int = 5
    limit_seconds: float = 30.0
    delay: float = 0.1
    cap: float = DELAY_CAP
    #: A run at least this long resets the delay; default: the limit window.
    stable_after: float | None = None

    @property
    def stable(self) -> float:
        return self.limit_seconds if self.stable_after is None else self.stable_after


@dataclass(frozen=True)
class History:
    """Start times (monotonic) and the delay the next quick death will get."""

    starts: tuple[float, ...] = ()
    next_delay: float | None = None


@dataclass(frozen=True)
class Decision:
    respawn: bool
    delay: float = 0.0
    reason: str | None = None
    history: History = field(default_factory=History)


def started(history: History, policy: RespawnPolicy, now: float) -> History:
    """Record a start at ``now``, forgetting starts older than the window."""
    recent = tuple(t for t in history.starts if now - t < policy.limit_seconds)
    return History(starts=(*recent, now), next_delay=history.next_delay)


def limit_reason(policy: RespawnPolicy) -> str:
    return f"respawn limit: {policy.limit_starts} starts in {policy.limit_seconds:g} s"


def decide(history: History, policy: RespawnPolicy, now: float) -> Decision:
    """Whether a service that died at ``now`` is respawned, after which delay."""
    recent = tuple(t for t in history.starts if now - t < policy.limit_seconds)
    if len(recent) >= policy.limit_starts:
        return Decision(respawn=False, reason=limit_reason(policy), history=History(recent))
    last_start = history.starts[-1] if history.starts else None
    stable = last_start is None or now - last_start >= policy.stable
    delay = policy.delay if stable or history.next_delay is None else history.next_delay
    delay = min(delay, policy.cap)
    following = min(delay * 2, policy.cap)
    return Decision(respawn=True, delay=delay, history=History(recent, following))
