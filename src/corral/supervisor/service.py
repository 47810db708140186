"""One owner per service: a task that holds the service's state.

Callers send requests through the owner's queue and await the answer; runner
events (launched, ready, exited, respawn due) come back through the same
queue. The owner decides, callers act: a start request is answered "already
running", waits for the start under way, or starts it; nobody else changes
the state — a changed declaration applied in place is a request too. Helper
tasks (launch, watch, stop, respawn timer, and each run's own through its
``RunScope``) run in the owner's TaskGroup and report by message, never by
raising; a failure that is not the service's reason is logged.

A respawn service whose launch fails goes through the respawn policy as if
it had exited (capped backoff; disabled at the limit, saying why). A launch
that failed because the engine does not answer (``EngineAway``) is not
counted: the owner waits for the engine and starts the service once it
answers (reason ``waiting for docker at /var/run/docker.sock since …``). A
stop that fails is reported to whoever asked (their request fails), said in
the reason and the daemon's log, and tried again with a capped backoff; the
service stays ``stopping`` until a stop succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any

from corral.config import Declared
from corral.errors import CorralError
from corral.supervisor import state as st
from corral.supervisor.changes import Changes
from corral.supervisor.respawn import (
    DELAY_CAP,
    Clock,
    History,
    RespawnPolicy,
    decide,
    started,
)
from corral.supervisor.runner import EngineAway, Handle, Runner, RunScope

log = logging.getLogger("corral.supervisor")

#: Seconds before a failed stop is tried again: doubling up to ``DELAY_CAP``.
STOP_RETRY = 1.0


@dataclass(frozen=True)
class Declaration:
    """What an owner supervises: the service as declared, its runner, its policy."""

    service: Declared
    runner: Runner
    policy: RespawnPolicy


@dataclass(frozen=True)
class _Request:
    op: str
    reply: asyncio.Future[None]
    #: For ``update``: the changed declaration, applied without a restart.
    declaration: Declaration | None = None


@dataclass(frozen=True)
class _Launched:
    run: int
    handle: Handle


@dataclass(frozen=True)
class _Outcome:
    """The readiness check of run ``run`` passed (``error`` None) or failed."""

    run: int
    error: str | None = None


@dataclass(frozen=True)
class _Exited:
    run: int
    code: int | None


@dataclass(frozen=True)
class _RespawnDue:
    run: int
    #: counted as a restart (a respawn); not when the engine came back
    restart: bool = True


@dataclass(frozen=True)
class _Away:
    """The launch of run ``run`` failed because its engine does not answer."""

    run: int
    away: EngineAway


@dataclass(frozen=True)
class _StopFailed:
    run: int
    error: str


@dataclass(frozen=True)
class _StopDue:
    run: int


_Message = _Request | _Launched | _Outcome | _Exited | _RespawnDue | _Away | _StopFailed | _StopDue


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def stamp(wall: float) -> str:
    """A wall-clock time as the reasons say it (UTC, to the second)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


class ServiceOwner:
    def __init__(
        self, declaration: Declaration, clock: Clock, changes: Changes | None = None
    ) -> None:
        self._declaration = declaration
        #: told of every state change (see ``changes``)
        self.changes = changes
        self.clock = clock
        self.state = st.State(since=clock.wall())
        #: the running value of the current run, and of the run before it
        self.handle: Handle | None = None
        self._previous: Handle | None = None
        self._queue: asyncio.Queue[_Message] = asyncio.Queue()
        self._run = 0
        self._history = History()
        self._start_waiters: list[asyncio.Future[None]] = []
        self._stop_waiters: list[asyncio.Future[None]] = []
        self._start_after_stop = False
        self._failure: str | None = None
        self._timer: asyncio.Task[None] | None = None
        #: waiting for the engine since (wall clock), while it does not answer
        self._waiting_since: float | None = None
        self._away_what: str | None = None
        #: a stop failed: the retry's timer, the next delay, the reason it replaced
        self._stop_timer: asyncio.Task[None] | None = None
        self._stop_delay = STOP_RETRY
        self._stop_failing = False
        self._reason_before_stop: str | None = None
        self._group: asyncio.TaskGroup | None = None
        self._scope: RunScope | None = None
        #: the runner of the run under way (an update mid-run applies from the next)
        self._running: Runner = declaration.runner
        self._own_scope: RunScope | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def service(self) -> Declared:
        return self._declaration.service

    @property
    def runner(self) -> Runner:
        return self._declaration.runner

    @property
    def policy(self) -> RespawnPolicy:
        return self._declaration.policy

    @property
    def name(self) -> str:
        return self.service.name

    # -- callers ------------------------------------------------------------

    async def request(self, op: str, declaration: Declaration | None = None) -> None:
        """Ask the owner to ``start``, ``stop``, ``enable``, ``disable``, ``close``,
        or ``update`` to a changed ``declaration`` (applied without a restart)."""
        if self._closed:
            raise CorralError(f"{self.name} is no longer declared")
        reply: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(op, reply, declaration))
        await reply

    async def start(self) -> None:
        await self.request("start")

    async def stop(self) -> None:
        await self.request("stop")

    def view(self) -> dict[str, Any]:
        s = self.state
        return {
            "name": self.name,
            "kind": self.service.kind,
            "state": s.status,
            "enabled": s.enabled,
            "pid": self.handle.pid if self.handle is not None else None,
            "restarts": s.restarts,
            "last_exit": s.last_exit,
            "since": s.since,
            "reason": s.reason,
            **self._running.details(self.handle),
        }

    # -- the owner ----------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            self._own_scope = RunScope(group, self.name)
            while True:
                message = await self._queue.get()
                if isinstance(message, _Request) and message.op == "close":
                    self._closed = True
                    self._cancel_timer()
                    self._settle(self._stop_waiters, f"{self.name} is no longer declared")
                    self._settle(self._start_waiters, f"{self.name} is no longer declared")
                    self._end_run()
                    self._own_scope.close()
                    for task in list(self._tasks):
                        task.cancel()
                    message.reply.set_result(None)
                    break
                self._handle(message)
        self._group = None

    def _apply(self, event: st.Event) -> None:
        before = self.state
        self.state = st.transition(before, event, self.clock.wall())
        if self.changes is not None and self.state != before:
            self.changes.changed(self.name, before, self.state)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._group is not None
        task = self._group.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _handle(self, message: _Message) -> None:
        match message:
            case _Request(op="start", reply=reply):
                self._on_start(reply)
            case _Request(op="stop", reply=reply):
                self._on_stop(reply)
            case _Request(op="enable", reply=reply):
                self._history = History()
                self._apply(st.Enable())
                reply.set_result(None)
            case _Request(op="disable", reply=reply):
                self._cancel_timer()
                self._waiting_since = None
                self._apply(st.Disable("disabled"))
                reply.set_result(None)
            case _Request(op="update", reply=reply, declaration=Declaration() as declaration):
                # the run under way keeps what it was started with; the next one takes this
                self._declaration = declaration
                reply.set_result(None)
            case _Request(op=op, reply=reply):
                reply.set_exception(CorralError(f"unknown request {op!r}"))
            case _Launched() if message.run == self._run:
                self._on_launched(message.handle)
            case _Outcome() if message.run == self._run:
                self._on_outcome(message.error)
            case _Exited() if message.run == self._run:
                self._on_exited(message.code)
            case _RespawnDue() if message.run == self._run:
                self._timer = None
                if self.state.status == "stopped" and self.state.enabled:
                    self._begin(respawn=message.restart)
            case _Away() if message.run == self._run:
                self._on_away(message.away)
            case _StopFailed() if message.run == self._run:
                self._on_stop_failed(message.error)
            case _StopDue() if message.run == self._run:
                self._stop_timer = None
                if self.state.status == "stopping" and self.handle is not None:
                    self._spawn(self._stop_task(self._run, self.handle))
            case _:
                pass  # a report about an earlier run

    # -- start --------------------------------------------------------------

    def _on_start(self, reply: asyncio.Future[None]) -> None:
        s = self.state
        if not s.enabled:
            reply.set_exception(CorralError(f"{self.name} is disabled ({s.reason})"))
        elif s.status == "running" or (
            s.status == "stopped" and self.service.one_shot and s.reason == st.DONE
        ):
            reply.set_result(None)
        elif s.status == "starting":
            self._start_waiters.append(reply)
        elif s.status == "stopping":
            self._start_after_stop = True
            self._start_waiters.append(reply)
        else:
            self._start_waiters.append(reply)
            self._begin(respawn=False)

    def _begin(self, respawn: bool) -> None:
        self._cancel_timer()
        self._apply(st.Start(respawn=respawn))
        self._run += 1
        self._history = started(self._history, self.policy, self.clock.monotonic())
        assert self._group is not None
        self._end_run()
        self._scope = RunScope(self._group, self.name, self._own_scope)
        self._running = self.runner
        self._spawn(self._launch(self._run, self._scope, self._running))

    def _end_run(self) -> None:
        """The run is over: its helpers stop; its handle is the next start's ``previous``."""
        if self._scope is not None:
            self._scope.close()
            self._scope = None

    async def _launch(self, run: int, scope: RunScope, runner: Runner) -> None:
        try:
            handle = await runner.start(scope, self._previous)
        except EngineAway as away:
            self._queue.put_nowait(_Away(run, away))
            return
        except Exception as error:  # reported as the service's reason
            self._queue.put_nowait(_Outcome(run, f"cannot start: {_one_line(error)}"))
            return
        self._queue.put_nowait(_Launched(run, handle))

    def _on_launched(self, handle: Handle) -> None:
        self.handle = handle
        if self._waiting_since is not None:
            log.warning("%s: %s answers again: started", self.name, self._away_what)
            self._waiting_since = None
        self._apply(st.Launched(handle.id))
        run = self._run
        self._spawn(self._watch(run, handle))
        if self.state.status == "stopping":
            self._spawn(self._stop_task(run, handle))
        else:
            self._spawn(self._ready(run, handle))

    async def _watch(self, run: int, handle: Handle) -> None:
        try:
            code = await self._running.wait(handle)
        except Exception as error:
            log.warning("%s: lost track of %s: %s", self.name, handle.id, _one_line(error))
            code = None
        self._queue.put_nowait(_Exited(run, code))

    async def _ready(self, run: int, handle: Handle) -> None:
        try:
            await self._running.ready(handle)
        except Exception as error:
            self._queue.put_nowait(_Outcome(run, _one_line(error)))
            return
        self._queue.put_nowait(_Outcome(run))

    def _on_away(self, away: EngineAway) -> None:
        """The launch failed because the engine does not answer: a respawn service
        waits for it (not counted against the limit); any other fails, saying so."""
        if not (self.service.respawn and self.state.enabled and self.state.status == "starting"):
            self._waiting_since = None
            self._on_outcome(f"cannot start: {away}")
            return
        self._history = replace(self._history, starts=self._history.starts[:-1])
        first = self._waiting_since is None
        if self._waiting_since is None:
            self._waiting_since = self.clock.wall()
        self._away_what = away.what
        reason = f"waiting for {away.what} since {stamp(self._waiting_since)}"
        if first:
            log.warning("%s: %s (%s)", self.name, reason, away)
        self._end_run()
        self._apply(st.Failed(reason))
        self._settle(self._start_waiters, f"{self.name}: {reason}")
        self._timer = self._spawn(self._when_back(self._run, away))

    async def _when_back(self, run: int, away: EngineAway) -> None:
        await away.until()
        self._queue.put_nowait(_RespawnDue(run, restart=False))

    def _on_outcome(self, error: str | None) -> None:
        if self.handle is None and error is not None:  # the launch itself failed
            before = self.state.status
            self._end_run()
            self._apply(st.Failed(error))
            self._settle(self._start_waiters, f"{self.name}: {error}")
            self._settle(self._stop_waiters, None)
            self._start_after_stop = False
            if before == "starting" and self.service.respawn and self.state.enabled:
                self._respawn_or_disable(last=error)  # as an exit would
            return
        if self.state.status != "starting":
            return
        if error is None:
            self._apply(st.Done() if self.service.one_shot else st.Ready())
            self._settle(self._start_waiters, None)
            return
        self._apply(st.Failed(error))
        after: st.Status = self.state.status
        if after == "stopping" and self.handle is not None:
            # callers hear of the failure once what was launched is gone
            self._failure = f"{self.name}: {error}"
            self._spawn(self._stop_task(self._run, self.handle))
            return
        self._settle(self._start_waiters, f"{self.name}: {error}")
        self.handle = None

    # -- exit and respawn ---------------------------------------------------

    def _on_exited(self, code: int | None) -> None:
        before = self.state.status
        self._previous, self.handle = self.handle, None
        self._end_run()
        if self.service.one_shot and before == "starting":
            if code == 0:
                self._apply(st.Done())
                self._settle(self._start_waiters, None)
                return
            self._apply(st.Exited(code))
            self._settle(self._start_waiters, f"{self.name}: {self.state.reason}")
            if self._respawns(code):  # respawn_on = "failure": tried again
                self._respawn_or_disable()
            return
        self._apply(st.Exited(code))
        if before == "starting":
            self._settle(self._start_waiters, f"{self.name}: {self.state.reason}")
        if before == "stopping":
            if self._stop_failing:
                log.warning("%s: stopped after all", self.name)
                self._apply(st.Note(self._reason_before_stop))
                self._stop_failing, self._stop_delay = False, STOP_RETRY
                self._cancel_stop_timer()
            if self._failure is not None:
                self._settle(self._start_waiters, self._failure)
                self._failure = None
            self._settle(self._stop_waiters, None)
            if self._start_after_stop:
                self._start_after_stop = False
                self._begin(respawn=False)
            return
        if self._respawns(code) and before in ("starting", "running"):
            self._respawn_or_disable()

    def _respawns(self, code: int | None) -> bool:
        """Whether an exit with ``code`` is respawned: respawn declared, the service
        enabled, and (``respawn_on = "failure"``) the exit a failure — a non-zero
        code, or one never learnt. A stop never gets here (its exit is expected)."""
        if not (self.service.respawn and self.state.enabled):
            return False
        return self.service.respawn_on == "exit" or code != 0

    def _respawn_or_disable(self, last: str | None = None) -> None:
        """The respawn policy's answer to a death (or a failed launch, ``last``)."""
        decision = decide(self._history, self.policy, self.clock.monotonic())
        self._history = decision.history
        if decision.respawn:
            self._timer = self._spawn(self._respawn_after(self._run, decision.delay))
            return
        reason = decision.reason or "respawn limit"
        if last is not None:
            reason = f"{reason}; last: {last}"
        log.warning("%s: disabled: %s", self.name, reason)
        self._apply(st.Disable(reason))

    async def _respawn_after(self, run: int, delay: float) -> None:
        await self.clock.sleep(delay)
        self._queue.put_nowait(_RespawnDue(run))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- stop ---------------------------------------------------------------

    def _on_stop(self, reply: asyncio.Future[None]) -> None:
        self._cancel_timer()
        if self._waiting_since is not None:  # no longer waiting for the engine to start it
            self._waiting_since = None
            self._apply(st.Note(None))
        self._start_after_stop = False
        status = self.state.status
        if status == "stopped":
            reply.set_result(None)
            return
        self._stop_waiters.append(reply)
        if status == "stopping":
            if self._stop_timer is not None and self.handle is not None:
                # a stop that failed: asked again, it is tried again now
                self._cancel_stop_timer()
                self._spawn(self._stop_task(self._run, self.handle))
            return
        self._apply(st.Stop())
        self._settle(self._start_waiters, f"{self.name} was stopped while starting")
        if self.handle is not None:
            self._spawn(self._stop_task(self._run, self.handle))
        # else: the launch under way is stopped as soon as it reports

    async def _stop_task(self, run: int, handle: Handle) -> None:
        try:
            await self._running.stop(handle)
        except Exception as error:
            self._queue.put_nowait(_StopFailed(run, _one_line(error)))

    def _on_stop_failed(self, error: str) -> None:
        """A stop failed: whoever waits hears it; the reason and the daemon's log
        say it; it is tried again after a capped backoff (the service stays
        ``stopping``, its container labelled, until a stop succeeds)."""
        if self.state.status != "stopping" or self.handle is None:
            return
        if not self._stop_failing:
            self._stop_failing = True
            self._reason_before_stop = self.state.reason
        delay = self._stop_delay
        self._stop_delay = min(delay * 2, DELAY_CAP)
        log.warning("%s: stopping %s failed: %s; retrying in %g s",
                    self.name, self.handle.id[:12], error, delay)  # fmt: skip
        self._apply(st.Note(f"cannot stop: {error}; retrying"))
        failed = f"{self.name}: cannot stop: {error}"
        self._settle(self._stop_waiters, failed)
        if self._start_after_stop:
            self._start_after_stop = False
            self._settle(self._start_waiters, failed)
        self._cancel_stop_timer()
        self._stop_timer = self._spawn(self._stop_after(self._run, delay))

    async def _stop_after(self, run: int, delay: float) -> None:
        await self.clock.sleep(delay)
        self._queue.put_nowait(_StopDue(run))

    def _cancel_stop_timer(self) -> None:
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None

    def _settle(self, waiters: list[asyncio.Future[None]], error: str | None) -> None:
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(CorralError(error))
        waiters.clear()
