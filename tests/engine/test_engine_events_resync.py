"""The events hub after a reconnect, as pure logic (a stand-in engine that
answers inspects): containers that died while the stream was down get their
``die``, live ones do not, and a subscription made after the break hears
nothing from before it (a container started again is not dead). The real
thing is in tests/faults (dockerd restarted, Podman's service killed)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from corral.engine.api import ApiError
from corral.engine.events import ContainerEvent, EventHub


@dataclass
class _Api:
    states: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    async def get(self, path: str, *args: Any, **kwargs: Any) -> Any:
        key = path.split("/")[2]
        state = self.states.get(key)
        if state is None:
            raise ApiError(404, f"no such container: {key}")
        return {"Id": key, "Name": f"/{key}", "State": state}


@dataclass
class _Engine:
    api: _Api
    runtime: str = "docker"


def test_resync_gives_the_dead_their_die_and_spares_the_living_and_the_new() -> None:
    async def main() -> dict[str, list[ContainerEvent]]:
        api = _Api({
            "dead": {"Running": False, "Status": "exited", "ExitCode": 137},
            "alive": {"Running": True, "Status": "running"},
            "again": {"Running": False, "Status": "exited", "ExitCode": 0},
        })  # fmt: skip
        hub = EventHub(_Engine(api))  # type: ignore[arg-type]
        subs = {key: hub.subscribe(key) for key in ("dead", "alive", "gone")}
        broke_ns = time.time_ns()
        await asyncio.sleep(0.01)
        subs["again"] = hub.subscribe("again")  # subscribed after the break (started again)
        await hub.resync(broke_ns)
        got = {key: [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
               for key, sub in subs.items()}  # fmt: skip
        if hub._task is not None:
            hub._task.cancel()
        return got

    got = asyncio.run(main())
    assert [(e.kind, e.exit_code) for e in got["dead"]] == [("die", 137)]
    assert [(e.kind, e.exit_code) for e in got["gone"]] == [("die", None)]
    assert got["alive"] == []
    assert got["again"] == []


def test_a_replayed_event_from_before_a_subscription_is_not_its_own() -> None:
    async def main() -> tuple[int, int]:
        hub = EventHub(_Engine(_Api()))  # type: ignore[arg-type]
        before = time.time_ns()
        await asyncio.sleep(0.01)
        sub = hub.subscribe("c1")
        hub._publish(ContainerEvent("die", "c1", "c1", 1, time_ns=before))  # a replay
        old = sub.queue.qsize()
        hub._publish(ContainerEvent("die", "c1", "c1", 2, time_ns=time.time_ns()))
        if hub._task is not None:
            hub._task.cancel()
        return old, sub.queue.qsize()

    assert asyncio.run(main()) == (0, 1)
