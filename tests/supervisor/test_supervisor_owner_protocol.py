"""The owner of a service, driven through the runner protocol by a fake runner
(pure logic: no process, no engine): who holds what between runs, where helper
tasks run, and that no failure goes unsaid."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from corral.config import Declared, Process
from corral.errors import CorralError
from corral.supervisor.respawn import RespawnPolicy
from corral.supervisor.runner import EngineAway, Handle, RunScope
from corral.supervisor.service import Declaration, ServiceOwner


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class FakeRunner:
    """A runner whose runs exit when the test says so."""

    label: str = "v1"
    fail_start: str | None = None
    fail_stop: str | None = None
    helper: Callable[[], Awaitable[None]] | None = None
    starts: list[Handle | None] = field(default_factory=list)
    exits: dict[str, asyncio.Future[int]] = field(default_factory=dict)
    scopes: list[RunScope] = field(default_factory=list)
    helpers: list[asyncio.Task[None]] = field(default_factory=list)
    #: this many starts fail as if the engine did not answer, until ``back`` is set
    away: int = 0
    back: asyncio.Event | None = None
    stop_calls: int = 0

    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        self.starts.append(previous)
        if self.away:
            self.away -= 1
            back = self.back
            assert back is not None

            async def until() -> None:
                await back.wait()

            raise EngineAway(
                "docker at /var/run/docker.sock does not answer: No such file or directory",
                "docker at /var/run/docker.sock", until,
            )  # fmt: skip
        if self.fail_start is not None:
            raise CorralError(self.fail_start)
        run_id = f"{self.label}-{len(self.starts)}"
        self.exits[run_id] = asyncio.get_running_loop().create_future()
        self.scopes.append(scope)
        if self.helper is not None:
            self.helpers.append(scope.spawn(self.helper(), "helping"))
        return Handle(id=run_id, run={"runner": self.label})

    async def ready(self, handle: Handle) -> None:
        return None

    async def wait(self, handle: Handle) -> int | None:
        return await self.exits[handle.id]

    async def stop(self, handle: Handle) -> int | None:
        self.stop_calls += 1
        if self.fail_stop is not None:
            raise CorralError(self.fail_stop)
        if not self.exits[handle.id].done():
            self.exits[handle.id].set_result(143)
        return 143

    def describe(self, handle: Handle) -> str:
        return handle.id

    async def command_line(self) -> list[str]:
        return [self.label]

    def details(self, handle: Handle | None) -> dict[str, Any]:
        return {"runner": self.label}


def service(respawn: bool = True, one_shot: bool = False) -> Declared:
    record = Process(name="svc", command=["true"], respawn=respawn, one_shot=one_shot)
    return Declared(
        name="svc", kind="process", record=record, path=("processes", 0), requirement=(),
        declared_requirement=(), auto_start=True, respawn=respawn, one_shot=one_shot,
    )  # fmt: skip


def owned(
    runner: FakeRunner,
    body: Callable[[ServiceOwner], Awaitable[Any]],
    declared: Declared | None = None,
) -> Any:
    async def main() -> Any:
        declaration = Declaration(declared or service(), runner, RespawnPolicy(delay=0.01))
        owner = ServiceOwner(declaration, Clock())
        task = asyncio.create_task(owner.run())
        try:
            return await asyncio.wait_for(body(owner), 10)
        finally:
            await owner.request("close")
            await task

    return asyncio.run(main())


async def until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.001)


def test_the_handle_of_the_run_before_reaches_the_next_start() -> None:
    runner = FakeRunner()

    async def body(owner: ServiceOwner) -> None:
        await owner.start()
        assert owner.state.status == "running" and owner.handle is not None
        first = owner.handle
        runner.exits[first.id].set_result(1)
        await until(lambda: len(runner.starts) == 2 and owner.state.status == "running")
        assert runner.starts == [None, first]  # the runner was handed its last run
        assert owner.state.restarts == 1 and owner.state.last_exit == 1

    owned(runner, body)


def test_helpers_run_in_the_owner_and_end_with_their_run() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    runner = FakeRunner(helper=forever)

    async def body(owner: ServiceOwner) -> None:
        await owner.start()
        helper = runner.helpers[0]
        assert not helper.done()
        await owner.stop()
        await until(helper.done)
        assert helper.cancelled()

    owned(runner, body, service(respawn=False))


def test_a_failing_helper_is_logged_and_the_service_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise CorralError("the log file went away")

    runner = FakeRunner(helper=broken)

    async def body(owner: ServiceOwner) -> str:
        await owner.start()
        await until(lambda: runner.helpers[0].done())
        await asyncio.sleep(0.01)
        return owner.state.status

    with caplog.at_level(logging.WARNING, logger="corral.supervisor"):
        assert owned(runner, body) == "running"
    assert "svc: helping failed: the log file went away" in caplog.text


def test_a_failed_stop_is_reported_retried_and_never_taken_as_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = FakeRunner(fail_stop="the engine timed out")

    async def body(owner: ServiceOwner) -> tuple[str, tuple[str, str | None], str | None, int]:
        await owner.start()
        with pytest.raises(CorralError) as failed:
            await owner.stop()
        during = (owner.state.status, owner.state.reason)
        await until(lambda: runner.stop_calls >= 3)  # tried again, and again
        still = owner.state.status
        runner.fail_stop = None  # the engine answers again
        await until(lambda: owner.state.status == "stopped")
        assert still == "stopping"
        return str(failed.value), during, owner.state.reason, runner.stop_calls

    with caplog.at_level(logging.WARNING, logger="corral.supervisor"):
        error, during, after, calls = owned(runner, body, service(respawn=False))
    assert error == "svc: cannot stop: the engine timed out"
    assert during == ("stopping", "cannot stop: the engine timed out; retrying")
    assert after is None  # stopped at last: the failure is no longer the reason
    assert calls >= 4
    assert "svc: stopping v1-1 failed: the engine timed out; retrying in 1 s" in caplog.text
    assert "svc: stopping v1-1 failed: the engine timed out; retrying in 2 s" in caplog.text
    assert "svc: stopped after all" in caplog.text


def test_a_failed_launch_of_a_respawn_service_goes_through_the_respawn_policy() -> None:
    runner = FakeRunner(fail_start="no such image")

    async def body(owner: ServiceOwner) -> tuple[str, bool, str | None]:
        with pytest.raises(CorralError):
            await owner.start()
        await until(lambda: not owner.state.enabled)
        return owner.state.status, owner.state.enabled, owner.state.reason

    status, enabled, reason = owned(runner, body)
    assert (status, enabled) == ("stopped", False)
    assert reason == "respawn limit: 5 starts in 30 s; last: cannot start: no such image"
    assert len(runner.starts) == 5


def test_a_launch_while_the_engine_is_away_waits_for_it_uncounted() -> None:
    back = asyncio.Event()
    runner = FakeRunner(away=8, back=back)

    async def body(owner: ServiceOwner) -> tuple[str | None, int, str, bool, int]:
        with pytest.raises(CorralError) as failed:
            await owner.start()
        await until(lambda: len(runner.starts) == 1 and owner.state.status == "stopped")
        waiting = owner.state.reason
        assert str(failed.value) == f"svc: {waiting}"
        back.set()  # it answers, but goes away again 7 times: never counted
        await until(lambda: owner.state.status == "running")
        return (
            waiting,
            len(runner.starts),
            owner.state.status,
            owner.state.enabled,
            owner.state.restarts,
        )

    waiting, starts, status, enabled, restarts = owned(runner, body)
    assert waiting is not None
    assert waiting.startswith("waiting for docker at /var/run/docker.sock since ")
    assert waiting.endswith("Z")
    assert (starts, status, enabled, restarts) == (9, "running", True, 0)


def test_a_service_without_respawn_fails_at_once_when_the_engine_is_away() -> None:
    runner = FakeRunner(away=1, back=asyncio.Event())

    async def body(owner: ServiceOwner) -> tuple[str, str | None, str]:
        with pytest.raises(CorralError) as failed:
            await owner.start()
        return owner.state.status, owner.state.reason, str(failed.value)

    status, reason, error = owned(runner, body, service(respawn=False))
    away = "docker at /var/run/docker.sock does not answer: No such file or directory"
    assert (status, reason) == ("stopped", f"cannot start: {away}")
    assert error == f"svc: cannot start: {away}"


def test_a_launch_failure_is_the_reason_once() -> None:
    runner = FakeRunner(fail_start="no such image")

    async def body(owner: ServiceOwner) -> tuple[str, str | None, str]:
        with pytest.raises(CorralError) as failed:
            await owner.start()
        return owner.state.status, owner.state.reason, str(failed.value)

    status, reason, error = owned(runner, body, service(respawn=False))
    assert (status, reason) == ("stopped", "cannot start: no such image")
    assert error == "svc: cannot start: no such image"


def test_an_update_is_applied_by_the_owner_from_the_next_run() -> None:
    old, new = FakeRunner("v1"), FakeRunner("v2")

    async def body(owner: ServiceOwner) -> None:
        await owner.start()
        declaration = Declaration(service(), new, RespawnPolicy(delay=0.01))
        await owner.request("update", declaration)
        assert owner.runner is new
        assert owner.view()["runner"] == "v1"  # the run under way is v1's
        assert owner.handle is not None
        old.exits[owner.handle.id].set_result(0)
        await until(lambda: len(new.starts) == 1 and owner.state.status == "running")
        assert owner.handle is not None and owner.handle.id == "v2-1"
        assert owner.view()["runner"] == "v2"

    owned(old, body)


def test_a_one_shot_is_done_on_exit_zero() -> None:
    runner = FakeRunner()

    async def body(owner: ServiceOwner) -> tuple[str, str | None]:
        starting = asyncio.create_task(owner.start())
        await until(lambda: bool(runner.exits))
        runner.exits["v1-1"].set_result(0)
        await starting
        return owner.state.status, owner.state.reason

    assert owned(runner, body, service(respawn=False, one_shot=True)) == ("stopped", "done")


def test_a_stop_while_waiting_for_the_engine_ends_the_wait() -> None:
    back = asyncio.Event()
    runner = FakeRunner(away=1, back=back)

    async def body(owner: ServiceOwner) -> tuple[str, str | None, int]:
        with pytest.raises(CorralError):
            await owner.start()
        await owner.stop()
        back.set()  # the engine answers: nobody asked for a start any more
        await asyncio.sleep(0.05)
        return owner.state.status, owner.state.reason, len(runner.starts)

    assert owned(runner, body) == ("stopped", None, 1)
