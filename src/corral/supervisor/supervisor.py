"""The supervisor: every service's owner, the graph between them, up/down, reload.

Starting a service starts its requirements first, concurrently; stopping one
stops its dependents first. ``up`` starts every auto_start service at once and
lets the graph order them; ``shutdown`` stops everything the same way, so the
order is the reverse of the dependency order.

Shutdown always ends: services get their stop timeouts (along the longest
chain of dependents) plus ``SHUTDOWN_GRACE``; whatever is still not stopped
then — an engine that does not answer — is named in the daemon's log and
left as it is (a container keeps corral's labels: the next daemon adopts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from corral.config import Config, Declared, declared_services, dependency_order
from corral.config.services import DAEMON_KINDS
from corral.errors import CorralError
from corral.supervisor import actions as act
from corral.supervisor import graph, housekeeping
from corral.supervisor.container import ContainerRunner
from corral.supervisor.factory import runner_for
from corral.supervisor.logsource import log_path, log_source
from corral.supervisor.plan import Change, plan
from corral.supervisor.respawn import RespawnPolicy
from corral.supervisor.runner import Handle, RunContext, Runner, RunScope
from corral.supervisor.service import Declaration, ServiceOwner, stamp

RunnerFactory = Callable[[Declared, Config, RunContext], Runner]
log = logging.getLogger("corral.supervisor")

log = logging.getLogger("corral.supervisor")

#: Seconds a shutdown waits beyond the services' stop timeouts.
SHUTDOWN_GRACE = 10.0
#: Seconds ``down`` gives the engine to list and remove what corral labelled.
HOUSEKEEPING_TIMEOUT = 60.0


class _Unsupported:
    """A runner for services corral cannot run yet: every start fails, saying why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        raise CorralError(self.reason)

    async def ready(self, handle: Handle) -> None:
        return None

    async def wait(self, handle: Handle) -> int | None:
        return None

    async def stop(self, handle: Handle) -> int | None:
        return None

    def describe(self, handle: Handle) -> str:
        return handle.id

    async def command_line(self) -> list[str]:
        return []

    def details(self, handle: Handle | None) -> dict[str, Any]:
        return {}


def policy_of(service: Declared) -> RespawnPolicy:
    record: Any = service.record
    limit = getattr(record, "respawn_limit", None)
    delay = float(getattr(record, "respawn_delay", 0.1))
    if limit is None:
        return RespawnPolicy(delay=delay)
    return RespawnPolicy(limit_starts=limit.starts, limit_seconds=limit.seconds, delay=delay)


class Supervisor:
    def __init__(
        self, config: Config, context: RunContext, factory: RunnerFactory = runner_for
    ) -> None:
        self.context = context
        self.factory = factory
        self.config = config
        self.services: dict[str, Declared] = {}
        self.owners: dict[str, ServiceOwner] = {}
        self._group: asyncio.TaskGroup | None = None
        self._wanted = declared_services(config)
        #: set once every declared service has its owner
        self.ready = asyncio.Event()
        self._up: asyncio.Future[dict[str, str]] | None = None
        #: every service change, said once (the page, ``status --watch``)
        self.changes = context.changes

    # -- lifetime -------------------------------------------------------------

    async def run(self, until: asyncio.Event) -> None:
        """Own every service until ``until`` is set, then stop them all."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for service in self._wanted:
                self._adopt(service)
            self.ready.set()
            await until.wait()
            await self.shutdown()

    def _declaration(self, service: Declared) -> Declaration:
        try:
            runner: Runner = self.factory(service, self.config, self.context)
        except CorralError as error:
            runner = _Unsupported(str(error))
        return Declaration(service, runner, policy_of(service))

    def _adopt(self, service: Declared) -> None:
        assert self._group is not None
        owner = ServiceOwner(self._declaration(service), self.context.clock, self.changes)
        self.services[service.name] = service
        self.owners[service.name] = owner
        self.changes.changed(service.name)
        self._group.create_task(owner.run(), name=f"service {service.name}")

    async def _update(self, service: Declared) -> None:
        """Apply a change that needs no restart (actions, respawn…): the owner
        takes the new declaration; the run under way keeps its own."""
        self.services[service.name] = service
        await self.owners[service.name].request("update", self._declaration(service))

    async def _forget(self, name: str) -> None:
        owner = self.owners.pop(name)
        self.services.pop(name)
        await owner.request("close")
        self.changes.forget(name)

    def shutdown_bound(self) -> float:
        """Seconds a shutdown may take: the stop timeouts along the longest chain
        of dependents (they stop first), plus ``SHUTDOWN_GRACE``."""
        longest: dict[str, float] = {}
        for service in self.ordered():  # requirements first
            own = float(getattr(service.record, "stop_timeout", 10.0))
            below = [longest[r] for r in service.requirement if r in longest]
            longest[service.name] = own + max(below, default=0.0)
        return max(longest.values(), default=0.0) + SHUTDOWN_GRACE

    async def shutdown(self, bound: float | None = None) -> list[str]:
        """Stop every service within ``bound`` seconds (default: ``shutdown_bound``),
        a failed stop tried again meanwhile; then let go of them all. What could
        not be stopped is named in the log, left labelled for adoption, and
        returned."""
        seconds = self.shutdown_bound() if bound is None else bound

        async def stopped() -> None:
            await self.stop_all()  # a stop that failed is tried again by its owner
            while not all(o.state.status == "stopped" for o in self.owners.values()):
                await asyncio.sleep(0.1)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped(), seconds)
        left = [
            f"{name} ({owner.runner.describe(owner.handle)})" if owner.handle is not None else name
            for name, owner in self.owners.items()
            if owner.state.status != "stopped"
        ]
        if left:
            log.warning(
                "shutdown: not stopped within %g s, left as they are (labelled for adoption "
                "by the next daemon): %s", seconds, ", ".join(left),
            )  # fmt: skip
        for name in list(self.owners):
            await self._forget(name)
        return left

    # -- the graph ------------------------------------------------------------

    def owner(self, name: str) -> ServiceOwner:
        try:
            return self.owners[name]
        except KeyError:
            raise CorralError(f"no service named {name!r}") from None

    def ordered(self) -> list[Declared]:
        return dependency_order(list(self.services.values()))

    async def start(self, name: str) -> None:
        owner = self.owner(name)
        requirements = [r for r in owner.service.requirement if r in self.owners]
        if requirements:
            failures = await self._each(self.start, requirements)
            if failures:
                first, reason = next(iter(failures.items()))
                reason = reason.removeprefix(f"{first}: ")  # named once
                await owner.blocked(f"requirement {first} failed: {reason}")
                raise CorralError(f"{name}: requirement {first} failed: {reason}")
        await owner.start()

    async def stop(self, name: str) -> None:
        owner = self.owner(name)
        dependents = graph.dependents(list(self.services.values())).get(name, [])
        await self._each(self.stop, dependents)
        await owner.stop()

    async def restart(self, name: str) -> None:
        active = self._active_dependents(name)
        await self.stop(name)
        await self.start(name)
        await self._each(self.start, active)

    def _active_dependents(self, name: str) -> list[str]:
        below = graph.dependents(list(self.services.values()))
        out: list[str] = []
        todo = list(below.get(name, []))
        while todo:
            dependent = todo.pop()
            if dependent not in out and self.owners[dependent].state.status != "stopped":
                out.append(dependent)
                todo.extend(below.get(dependent, []))
        return out

    async def _each(self, operation: Callable[[str], Any], names: list[str]) -> dict[str, str]:
        """Run ``operation`` on every name concurrently; the failures, by name."""
        failures: dict[str, str] = {}

        async def one(name: str) -> None:
            try:
                await operation(name)
            except CorralError as error:
                failures[name] = str(error)

        async with asyncio.TaskGroup() as group:
            for name in names:
                group.create_task(one(name))
        return failures

    async def up(self) -> dict[str, str]:
        """Start every auto_start service; the failures, by name. Callers that
        arrive while an ``up`` runs share it (the daemon's own ``--up`` and the
        client's request), so a failing service is not tried twice."""
        if self._up is None or self._up.done():
            assert self._group is not None, "up before the supervisor runs"
            names = [s.name for s in self.ordered() if s.auto_start]
            self._up = self._group.create_task(self._each(self.start, names), name="up")
        return await asyncio.shield(self._up)

    async def stop_all(self) -> dict[str, str]:
        return await self._each(self.stop, list(self.owners))

    # -- questions ------------------------------------------------------------

    def status(self, name: str | None = None) -> list[dict[str, Any]]:
        if name is not None:
            return [self._view(self.owner(name))]
        return [self._view(self.owners[s.name]) for s in self.ordered()]

    def _view(self, owner: ServiceOwner) -> dict[str, Any]:
        """The owner's view, with ``log``: the drop episode under way in its log
        file (``LogFile.drops``: a full disk), else None."""
        path = log_path(owner.service, self.context.state_dir)
        drops = self.context.logs.drops(path) if path is not None else None
        view = {**owner.view(), "log": drops.view() if drops is not None else None}
        engine = self._engine_down(owner.service)
        if engine is not None and not view["reason"]:
            down = self.owners[engine].state
            view["reason"] = f"waiting for {engine} since {stamp(down.since)}"
        return view

    def _engine_down(self, service: Declared) -> str | None:
        """The engine daemon corral runs under ``service`` when it is not running
        (dockerd, podman; or containerd under dockerd), else None."""
        for name in service.requirement:
            owner = self.owners.get(name)
            if owner is None or owner.service.kind not in DAEMON_KINDS:
                continue
            if owner.state.status != "running":
                return name
            below = self._engine_down(owner.service)
            if below is not None:
                return below
        return None

    def log_source(self, name: str) -> dict[str, str]:
        """Where ``name`` logs: a file, or the engine (see ``logsource``)."""
        self.owner(name)
        return log_source(self.config, name, self.context.state_dir)

    async def action(self, name: str, action: str) -> str:
        """Run a built-in action (``corral.actions.BUILTIN_ACTIONS``) or one ``name`` declares."""
        owner = self.owner(name)
        builtin = self._builtins.get(action)
        if builtin is not None:
            return await builtin(owner)
        record = owner.service.record
        declared = act.declared_action(getattr(record, "actions", ()), action)
        if declared is None:
            raise CorralError(f"{name} has no action {action!r}")
        container = name if owner.service.kind == "container" else None
        return await act.run_action(declared, name, self.context.reaper, container)

    @property
    def _builtins(self) -> dict[str, Callable[[ServiceOwner], Awaitable[str]]]:
        """The built-in actions, by the names ``BUILTIN_ACTIONS`` gives them."""
        return {
            "status": self._status_action,
            "restart": self._restart_action,
            "command-line": self._command_line_action,
            "pull": self._pull_action,
        }

    async def _status_action(self, owner: ServiceOwner) -> str:
        return json.dumps(owner.view(), indent=2)

    async def _restart_action(self, owner: ServiceOwner) -> str:
        await self.restart(owner.name)
        return f"{owner.name} restarted"

    async def _command_line_action(self, owner: ServiceOwner) -> str:
        if isinstance(owner.runner, ContainerRunner):
            return "\n".join(act.command_line(a) for a in await owner.runner.command_lines())
        return act.command_line(await owner.runner.command_line())

    async def _pull_action(self, owner: ServiceOwner) -> str:
        runner = owner.runner
        if not isinstance(runner, ContainerRunner):
            raise CorralError(
                f"{owner.name}: pull is for containers, and {owner.name} is a {owner.service.kind}"
            )
        return await runner.pull()

    async def replace(
        self,
        service: Declared,
        started: Callable[[], Awaitable[bool]],
        *,
        note: str | None = None,
        dependents: list[str] | None = None,
    ) -> list[str]:
        """Recreate ``service`` on a new declaration (``corral update``): its
        active dependents stopped first, then it, its owner replaced by one of the
        new declaration (``note`` shown in its status), and ``started()`` run —
        it starts the service and says whether it holds. When it does, the
        dependents (and ``dependents``) start again, and none are returned; else
        they are returned, still stopped, for the next ``replace`` to start."""
        name = service.name
        active = [*(dependents or []), *self._active_dependents(name)]
        order = list(self.services)
        await self.stop(name)
        await self._forget(name)
        self._adopt(service)
        self.services = {n: self.services[n] for n in order if n in self.services}
        runner = self.owners[name].runner
        if note is not None and isinstance(runner, ContainerRunner):
            runner.update_note = note
        if not await started():
            return active
        await self._each(self.start, list(dict.fromkeys(active)))
        return []

    # -- reload ---------------------------------------------------------------

    async def plan(self, config: Config) -> list[Change]:
        """What ``reload`` would do: the declarations' diff, then what the engine
        holds — drifted networks and volumes, containers of services gone."""
        changes = plan(list(self.services.values()), declared_services(config))
        hub = self.context.engines
        touched = {c.name for c in changes}
        for name, why in (await housekeeping.drifted_objects(hub, config)).items():
            if name in self.services and name not in touched:
                changes.append(Change("restart", name, why))
        # a container made from files read at start is restarted when they changed
        still = {s.name for s in declared_services(config)} - touched
        for name, owner in self.owners.items():
            runner = owner.runner
            if name in still and owner.handle is not None and isinstance(runner, ContainerRunner):
                files = runner.changed_inputs(owner.handle)
                if files:
                    why = "changed the content of " + ", ".join(files)
                    changes.append(Change("restart", name, why))
        for orphan in await housekeeping.orphans(hub, config, self.context.state_dir):
            if orphan.service not in self.services:
                changes.append(
                    Change(
                        "remove",
                        orphan.service,
                        f"container {orphan.container_id[:12]} is labelled by corral "
                        "but no longer declared",
                    )
                )
        return changes

    async def down(self, volumes: bool = False) -> dict[str, str]:
        """Stop every service, remove every container corral labelled, and with
        ``volumes`` the declared networks and volumes too — while the engine
        daemons corral runs still answer; then stop them (dockerd, then
        containerd) and sweep what their instance left (``leftovers``)."""
        daemons = [n for n, o in self.owners.items() if o.service.kind in DAEMON_KINDS]
        failures = await self._each(self.stop, [n for n in self.owners if n not in daemons])
        hub = self.context.engines

        async def housekeep() -> None:
            for runtime in housekeeping.runtimes(hub, self.config):
                if not await hub.answers(runtime):
                    raise CorralError(
                        f"{hub.endpoints(runtime)} does not answer: the containers corral "
                        "could not stop stay, labelled, for the next daemon to adopt"
                    )
            every = await housekeeping.orphans(hub, self.config, self.context.state_dir, set())
            await housekeeping.remove_orphans(hub, every)
            if volumes:
                await housekeeping.remove_objects(hub, self.config)

        try:
            await asyncio.wait_for(housekeep(), HOUSEKEEPING_TIMEOUT)
        except TimeoutError:
            failures["engine"] = (
                f"the engine did not remove corral's containers within {HOUSEKEEPING_TIMEOUT:g} s"
            )
        except (CorralError, OSError) as error:
            failures["engine"] = str(error)
        if daemons:
            await hub.close()  # its connections go to daemons about to stop
            failures |= await self._each(self.stop, daemons)
            from corral.supervisor.leftovers import instance_paths, sweep

            swept = sweep(instance_paths(self.config, self.context.state_dir))
            if swept.killed or swept.unmounted:
                log.warning("down: after the engine daemons stopped: %s", swept)
        if self.context.runtime_dir:
            from corral.supervisor.secrets import remove_secrets

            try:
                remove_secrets(self.context.secrets_dir)
            except CorralError as error:
                failures["secrets"] = str(error)
        return failures

    async def reload(self, config: Config) -> list[Change]:
        changes = await self.plan(config)
        wanted = {s.name: s for s in declared_services(config)}
        was_active = {n for n, o in self.owners.items() if o.state.status != "stopped"}
        for change in changes:
            if change.op in ("stop", "restart"):
                await self.stop(change.name)
        self.config = config
        for change in changes:
            if change.op in ("stop", "restart"):
                await self._forget(change.name)
            if change.op in ("start", "restart"):
                self._adopt(wanted[change.name])
            if change.op == "update":
                await self._update(wanted[change.name])
        # keep the dependency order of the new file
        ordered = dependency_order(list(wanted.values()))
        self.services = {s.name: self.services[s.name] for s in ordered}
        restarted = {c.name for c in changes if c.op == "restart"}
        to_start = [
            s.name
            for s in self.ordered()
            if (s.name in was_active)
            or (s.name in restarted and s.auto_start)
            or any(c.op == "start" and c.name == s.name and s.auto_start for c in changes)
        ]
        await self._each(self.start, to_start)
        removed = [c for c in changes if c.op == "remove"]
        if removed:
            hub = self.context.engines
            found = await housekeeping.orphans(hub, config, self.context.state_dir)
            await housekeeping.remove_orphans(hub, [o for o in found if o.service not in wanted])
        return changes
