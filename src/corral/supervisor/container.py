"""The container runner: a ``[[container]]`` as a supervised service.

Start makes the image present (an image record loaded, skipped when the
engine has that image ID; a reference pulled when missing), removes a stale
container of the same name (unless it is adoptable), then creates the
container from its spec — through the Engine API, or the CLI as the declared
user/group when only the CLI can say it — and starts it, labelled with its
service, the hash of its declaration and this corral instance. A running
container whose labels match is adopted instead, so a restarted daemon (even
after kill -9) takes its containers back without restarting them.

Exits, health changes and log lines come through the runtime's one engine
connection. Stop is graceful: stop_signal, stop_timeout, then removal. A
container that exits by itself is kept (with its logs) until its respawn,
which renames it out of the way (``<name>.exited-<id>``), creates and starts
its successor, then removes it; one a crash left renamed goes at the next
start, and at ``down``.

The runner keeps nothing between runs: each run's state is its ``_Run``, in
the handle the owner holds; its helper tasks run in the owner's TaskGroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from corral.config import OciContainer, OciImage
from corral.config.registry import Registry
from corral.config.services import image_reference
from corral.errors import CorralError
from corral.render.container import connect_argvs, create_argv
from corral.render.identity import HASH_LABEL, INSTANCE_LABEL
from corral.render.spec import SECRETS_PLACEHOLDER, ContainerSpec, container_spec
from corral.runtimes import Runtime
from corral.supervisor.bindsources import make_bind_sources
from corral.supervisor.invocation import labels_for, read_inputs
from corral.supervisor.runner import EngineAway, Handle, RunContext, RunScope
from corral.supervisor.secrets import (
    CLI_ENV_FILE,
    cli_env_text,
    remove_service_secrets,
    write_secrets,
)

if TYPE_CHECKING:
    from corral.engine.client import Engine
    from corral.engine.events import Subscription
    from corral.engine.runner import Invocation

log = logging.getLogger("corral.supervisor")

#: Seconds beyond the worst case of a health check's own timing before
#: a dependent stops waiting for the container to turn healthy.
HEALTH_GRACE = 30.0


def health_deadline(container: OciContainer) -> float:
    """How long a start may wait for ``healthy``: start period, then every
    retry at its interval and timeout, plus a grace."""
    per_try = container.health_interval + container.health_timeout
    return container.health_start_period + (container.health_retries + 1) * per_try + HEALTH_GRACE


@dataclass
class _Run:
    """One run of a container service: what its handle carries."""

    engine: Engine
    scope: RunScope
    adopted: bool
    #: the events of the container this run started (None when adopted)
    exit_watch: Subscription | None
    health: str | None = None
    unhealthy: asyncio.Event = field(default_factory=asyncio.Event)
    #: the stop under way, or the last one (a failed one is tried again)
    stopping: asyncio.Future[int | None] | None = None
    #: set once a stop removed the container: the run is over then, not at its death
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    helpers: list[asyncio.Task[None]] = field(default_factory=list)
    #: it exited by itself: kept (for its logs) until the next start sets it aside
    exited_alone: bool = False
    #: keyed digests of the files this run read at start (env files, secrets)
    inputs: dict[str, str] = field(default_factory=dict)
    #: what its image's pull said that a person should know (a kept local image)
    notes: tuple[str, ...] = ()
    #: its container's declaration hash (``HASH_LABEL``)
    config_hash: str = ""
    #: the engine's events stream breaks before it started (``EventHub.reconnects``)
    epoch: int = 0
    #: the container of the run before, started again (its log holds that run's too)
    resumed: bool = False
    #: set once its container exited (a one-shot is ready then)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    #: a one-shot found done at start (exited 0 under a daemon before): its exit code
    done_code: int | None = None


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a stop attempt's error as seen (its caller reports it)."""
    if not future.cancelled():
        future.exception()


def _one_line(error: BaseException | None) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _why(error: BaseException) -> str:
    """What an engine's absence made of ``error``: the system's words when its
    socket refused or was absent (``No such file or directory``), else its line."""
    from corral.engine.api import Unreachable

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, Unreachable):
            return seen.why
        seen = seen.__cause__ or seen.__context__
    return _one_line(error)


def _run_of(handle: Handle) -> _Run:
    run = handle.run
    assert isinstance(run, _Run), f"not a container run: {handle!r}"
    return run


class ContainerRunner:
    def __init__(
        self,
        name: str,
        container: OciContainer,
        runtime: Runtime,
        context: RunContext,
        registries: tuple[Registry, ...] = (),
        records: tuple[OciImage, ...] = (),
    ) -> None:
        self.name = name
        #: the configuration's image records: a Dockerfile's FROM may name one
        self.records = records
        self.container = container
        self.runtime = runtime
        self.context = context
        #: the logins its pulls use (``[[registry]]``; the user's files otherwise)
        self.registries = registries
        #: what ``corral update`` says of this declaration (``rolled back: …``), in status
        self.update_note: str | None = None

    # -- start ----------------------------------------------------------------

    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        """Launch the container (see the module's doc). A start that failed while
        the engine does not answer raises ``EngineAway``, naming the engine."""
        try:
            return await self._start(scope, previous)
        except Exception as error:
            hub = self.context.engines
            if isinstance(error, CorralError | OSError) and not await hub.answers(self.runtime):
                from corral.engine.client import EngineUnreachable

                endpoint = hub.endpoints(self.runtime)
                if isinstance(error, EngineUnreachable):
                    message = str(error)
                else:
                    message = f"{endpoint} does not answer: {_why(error)}"
                runtime = self.runtime
                raise EngineAway(
                    message, endpoint.awaited, lambda: hub.wait_answers(runtime)
                ) from error
            raise

    async def _start(self, scope: RunScope, previous: Handle | None) -> Handle:
        from corral.engine import containers

        hub = self.context.engines
        engine = await hub.get(self.runtime)
        epoch = engine.events.reconnects
        reference = image_reference(self.container.image)
        key = f"{self.runtime} image {reference} pull={self.container.pull}"
        image_id = scope.future(hub.once(key, lambda: self._image(engine)))
        prior = _run_of(previous) if previous is not None else None
        dead = previous.id if previous is not None and prior and prior.exited_alone else None
        # Its engine went away under it (stopped or restarted: the events stream broke
        # since it started): it did not die of itself, so it is started again as it
        # is, as the engine's own restart policy would — unless its declaration changed.
        again = dead is not None and prior is not None and prior.epoch != engine.events.reconnects
        aside = False
        done_code: int | None = None
        try:
            if again:
                taken: set[str] = set()
            elif dead is not None:
                # A respawn: the name is held by this service's own dead container. It
                # is renamed out of the way (no listing, inspect or stop, no layer to
                # delete first) while the image is looked up, and removed afterwards.
                aside = await containers.set_aside(engine, self.name, dead)
                taken = set()
            else:
                taken = await hub.once(f"{self.runtime} names", lambda: containers.names(engine))
                await self._remove_set_aside(engine, taken)
            inputs = await read_inputs(self.container).with_commands(self.container)
            made_from, notes = await image_id
            labels = labels_for(
                self.container, self.name, self.runtime, made_from,
                self.context.state_dir, inputs=inputs,
            )  # fmt: skip
            secrets_dir = SECRETS_PLACEHOLDER
            if self.container.secrets:
                secrets_dir = self.context.secrets_dir
                values = list(zip(self.container.secrets, inputs.secret_values, strict=True))
                write_secrets(secrets_dir, self.name, values)
            spec = container_spec(
                self.container, self.name, self.runtime, labels, inputs.env_pairs, secrets_dir
            )
            env_text = None
            if spec.cli_only is not None and self.container.env_files:
                env_text = cli_env_text(self.name, inputs.env_pairs)
                spec = container_spec(
                    self.container, self.name, self.runtime, labels, inputs.env_pairs,
                    secrets_dir, CLI_ENV_FILE,
                )  # fmt: skip
            async with hub.gate:
                container_id = None
                watch = None
                if again and dead is not None and prior is not None:
                    if prior.config_hash == labels[HASH_LABEL]:
                        watch = await containers.start_again(engine, dead)
                    if watch is not None:
                        container_id = dead
                    else:  # made anew: the dead one (if still there) moves out of the way
                        aside = await containers.set_aside(engine, self.name, dead)
                if container_id is not None:
                    adopted = False
                elif (
                    self.name in taken
                    and self.container.one_shot
                    and (
                        done := await containers.claim_done(
                            engine, self.name, labels[HASH_LABEL], self.context.state_dir
                        )
                    )
                ):
                    container_id, adopted, done_code = done, True, 0
                elif self.name in taken:  # one listing spares an inspect per new container
                    container_id = await containers.claim(
                        engine, self.name, labels[HASH_LABEL],
                        self.context.state_dir, self.container.stop_timeout,
                    )  # fmt: skip
                    adopted = container_id is not None
                else:
                    adopted = False
                if container_id is None:
                    make_bind_sources(self.container)
                    container_id, adopted = await self._create(engine, spec, env_text)
                if watch is None and not adopted:
                    watch = await containers.start_watched(engine, container_id)
        finally:
            image_id.cancel()  # when something failed first (the lookup itself is shared)
            if aside:
                assert dead is not None
                scope.detach(containers.remove(engine, dead), f"removing container {dead[:12]}")
        run = _Run(engine=engine, scope=scope, adopted=adopted, exit_watch=watch,
                   inputs=self._digests(inputs.contents), config_hash=labels[HASH_LABEL],
                   epoch=epoch, resumed=again and container_id == dead, notes=notes,
                   done_code=done_code)  # fmt: skip
        self._helpers(run, container_id)
        return Handle(id=container_id, run=run)

    def _digests(self, contents: dict[str, bytes]) -> dict[str, str]:
        from corral.render.identity import content_digest
        from corral.supervisor.invocation import hash_key

        key = hash_key(self.context.state_dir)
        return {name: content_digest(name, content, key) for name, content in contents.items()}

    def changed_inputs(self, handle: Handle) -> list[str]:
        """The files read at start (env files, secret sources; not commands) whose
        content differs now from what the running container was made with."""
        if not (self.container.env_files or self.container.secrets):
            return []
        try:
            now = self._digests(read_inputs(self.container).contents)
        except CorralError as error:
            return [f"{error}"]
        was = _run_of(handle).inputs
        return [name for name, digest in now.items() if was.get(name) != digest]

    def _helpers(self, run: _Run, container_id: str) -> None:
        from corral.engine import health

        if self.container.log_file is not None:
            run.helpers.append(
                run.scope.spawn(self._follow_logs(run, container_id), "following its log")
            )
        if self.container.health_cmd is not None and run.done_code is None:
            run.helpers.append(
                run.scope.spawn(self._watch_health(run, container_id), "watching its health")
            )
            if health.needs_driving(run.engine, self.container):
                checks = health.drive_podman_health(run.engine, self.name, self.container)
                run.helpers.append(run.scope.spawn(checks, "running its health checks"))

    async def _remove_set_aside(self, engine: Engine, taken: set[str]) -> None:
        """Remove this service's dead containers that a respawn set aside and a
        crash kept from removing (they are this corral's: its instance label)."""
        from corral.engine import containers

        for name in sorted(n for n in taken if containers.set_aside_of(self.name, n)):
            data = await containers.inspect(engine, name)
            labels = ((data or {}).get("Config") or {}).get("Labels") or {}
            if data is not None and labels.get(INSTANCE_LABEL) == self.context.state_dir:
                await containers.remove(engine, str(data["Id"]))

    def _invocation(self, stdin: bytes | None = None) -> Invocation:
        """How the CLI runs for this container; ``stdin``: what it reads there
        (the env file pairs, on the CLI path), through a fresh pipe."""
        import dataclasses

        from corral.engine.containers import invocation_for

        invocation = invocation_for(self.container, self.runtime)
        if stdin is None:
            return invocation
        read_end, write_end = os.pipe()
        try:
            # the CLI opens /dev/stdin anew: the pipe must be its user's
            user = invocation.identity.user
            if user is not None and os.geteuid() == 0:
                os.fchown(read_end, pwd.getpwnam(user).pw_uid, -1)
            os.write(write_end, stdin)  # within a pipe's buffer (CLI_ENV_LIMIT)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return dataclasses.replace(invocation, stdin_fd=read_end)

    async def _create(
        self, engine: Engine, spec: ContainerSpec, stdin: bytes | None = None
    ) -> tuple[str, bool]:
        """A new container's ID, or — when one of that name appeared since the
        listing — the adopted one's: (ID, adopted)."""
        from corral.engine import containers

        try:
            return await containers.create(engine, spec, self._invocation(stdin)), False
        except containers.NameTaken:
            hash_ = spec.value("labels")[HASH_LABEL]
            adopted = await containers.claim(
                engine, self.name, hash_, self.context.state_dir, self.container.stop_timeout
            )
            if adopted is not None:
                return adopted, True
            return await containers.create(engine, spec, self._invocation(stdin)), False

    async def _image(self, engine: Engine) -> tuple[str, tuple[str, ...]]:
        """The image ID the container is made from, made present on the engine: an
        image record loaded unless there, a reference pulled as its ``pull`` says;
        and the notes of that (``engine.images.present``)."""
        from corral.engine import images
        from corral.engine.credentials import Credentials

        notes: list[str] = []
        output: Callable[[str], None] | None = None
        image = self.container.image
        if isinstance(image, OciImage) and image.build is not None:
            from corral.paths import build_log_path

            build_log = self.context.logs.get(build_log_path(self.context.state_dir, self.name))

            def output(line: str) -> None:  # its Dockerfile build's lines
                build_log.write(line.encode(errors="replace"))

        image_id = await images.present(
            engine, image, state_dir=self.context.state_dir,
            policy=self.container.pull or "missing",
            credentials=Credentials(self.registries, self.runtime), notes=notes,
            output=output, bases=lambda ref: self._base(engine, ref, (image,)),
        )  # fmt: skip
        for note in notes:
            log.warning("%s: %s", self.name, note)
        return image_id, tuple(notes)

    async def _base(
        self, engine: Engine, reference: str, within: tuple[str | OciImage, ...]
    ) -> None:
        """Make the image record named ``reference`` present, when the configuration
        declares one (a Dockerfile's ``FROM`` of a corral-built image): loaded or
        built once however many builds name it."""
        from corral.engine import images

        record = next((r for r in self.records if r.reference == reference), None)
        if record is None:
            return
        if record in within:  # A's FROM names B, B's names A
            raise CorralError(f"{reference}: its Dockerfile's FROM comes back to itself")
        key = f"{self.runtime} image {reference} base"

        async def present() -> str:
            return await images.present(
                engine, record, state_dir=self.context.state_dir,
                bases=lambda ref: self._base(engine, ref, (*within, record)),
            )  # fmt: skip

        await self.context.engines.once(key, present)

    async def _follow_logs(self, run: _Run, container_id: str) -> None:
        path = self.container.log_file
        assert path is not None
        from corral.engine.logs import follow

        since = None
        if run.adopted or run.resumed:
            with contextlib.suppress(FileNotFoundError):
                since = os.stat(path).st_mtime  # what the last daemon wrote is kept
        log = self.context.logs.get(path)  # created 0640, rotated as processes' logs
        await follow(run.engine, container_id, log.write, since=since)

    async def _watch_health(self, run: _Run, container_id: str) -> None:
        from corral.engine.health import health_changes

        async for status in health_changes(run.engine, container_id):
            run.health = status
            self.context.changes.changed(self.name)
            if status == "unhealthy" and self.container.on_unhealthy == "restart":
                run.unhealthy.set()

    # -- ready, wait, stop -----------------------------------------------------

    async def ready(self, handle: Handle) -> None:
        """Running once healthy, when a health check is declared: dependents wait
        for that on every start (up, restart, respawn, reload). A one-shot is
        ready once it exited (its exit code says whether it is done)."""
        if self.container.one_shot:
            await _run_of(handle).exited.wait()
            return
        if self.container.health_cmd is None:
            return
        from corral.engine import health

        run = _run_of(handle)
        healthy = health.wait_healthy(run.engine, handle.id, health_deadline(self.container))
        if health.checks_start_itself(run.engine, self.container):
            early = health.start_checks(run.engine, handle.id, self.container)
            waits = {run.scope.future(healthy), run.scope.future(early)}
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            next(iter(done)).result()
        else:
            await healthy
        run.health = "healthy"
        self.context.changes.changed(self.name)

    async def wait(self, handle: Handle) -> int | None:
        from corral.engine.containers import wait_exit, wait_subscribed

        run = _run_of(handle)
        if run.done_code is not None:  # adopted done: it exited before this daemon
            run.exited_alone = True
            run.exited.set()
            return run.done_code
        watch, run.exit_watch = run.exit_watch, None
        exited = run.scope.future(
            wait_exit(run.engine, handle.id)
            if watch is None
            else wait_subscribed(run.engine, watch, handle.id)
        )
        unhealthy: asyncio.Future[Any] = run.scope.future(run.unhealthy.wait())
        waited: set[asyncio.Future[Any]] = {exited, unhealthy}
        try:
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        finally:
            unhealthy.cancel()
        if not exited.done():
            # on_unhealthy = "restart": stop it; its death goes through the respawn policy
            run.scope.spawn(self._stop_until_gone(run, handle), "stopping it (unhealthy)")
        code = await exited
        run.exited.set()
        if run.stopping is None:
            run.exited_alone = True  # the next start removes it
        else:
            # the service is stopped once its container is gone, not merely dead:
            # a stop that failed is tried again (by the owner), never taken as done
            await run.gone.wait()
        return code

    async def _stop_until_gone(self, run: _Run, handle: Handle) -> None:
        """Stop the container, trying again (with a capped backoff) until it is gone."""
        from corral.supervisor.respawn import DELAY_CAP

        delay = 1.0
        while True:
            attempt = self._stop(run, handle)
            await asyncio.wait({attempt})
            if not attempt.cancelled() and attempt.exception() is None:
                return
            log.warning("%s: stopping %s failed: %s; retrying in %g s", self.name,
                        handle.id[:12], _one_line(attempt.exception()), delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, DELAY_CAP)

    async def stop(self, handle: Handle) -> int | None:
        """Stop and remove the container; ``EngineError`` when the engine did not
        do it in time (the container stays, labelled; a later stop tries again)."""
        code = await asyncio.shield(self._stop(_run_of(handle), handle))
        if self.container.secrets and self.context.runtime_dir:
            # the container is gone: so are its secret files (the next start writes them)
            remove_service_secrets(self.context.secrets_dir, self.name)
        return code

    def _stop(self, run: _Run, handle: Handle) -> asyncio.Future[int | None]:
        """The graceful stop of this run (signal, timeout, then removal) under way;
        a new attempt when the last one failed."""
        from corral.engine.containers import stop

        last = run.stopping
        if last is None or (last.done() and (last.cancelled() or last.exception() is not None)):

            async def stopping() -> int | None:
                code = await stop(
                    run.engine, handle.id, self.container.stop_timeout,
                    self.container.stop_signal,
                )  # fmt: skip
                run.gone.set()
                for task in run.helpers:
                    task.cancel()
                return code

            attempt = run.scope.future(stopping())
            attempt.add_done_callback(_retrieved)
            run.stopping = last = attempt
        return last

    async def pull(self) -> str:
        """The ``pull`` action: fetch a string image anew from its registry."""
        from corral.engine.pull import pull

        image = self.container.image
        if isinstance(image, OciImage):
            raise CorralError(
                f"{self.name}: pull is for images named by a string; {image.reference} is "
                "built or loaded by corral (`corral image build`)"
            )
        from corral.engine.credentials import Credentials
        from corral.engine.registry import reference_of

        credentials = Credentials(self.registries, self.runtime)
        auth = await credentials.header_for(reference_of(image).domain)
        await pull(await self.context.engines.get(self.runtime), image, auth=auth)
        return f"pulled {image}"

    # -- for people -------------------------------------------------------------

    def describe(self, handle: Handle) -> str:
        return f"container {handle.id[:12]}"

    async def command_line(self) -> list[str]:
        """The call corral makes to create the container, as the equivalent CLI
        line (labels and hash exact; the image looked up, not loaded or pulled)."""
        from corral.engine.images import known_id

        engine = await self.context.engines.get(self.runtime)
        image_id = await known_id(engine, self.container.image, self.context.state_dir)
        try:
            inputs = read_inputs(self.container)
        except CorralError:
            inputs = None  # the start reports it
        labels = labels_for(
            self.container, self.name, self.runtime, image_id, self.context.state_dir,
            inputs=inputs,
        )  # fmt: skip
        secrets_dir = self.context.secrets_dir if self.context.runtime_dir else SECRETS_PLACEHOLDER
        spec = container_spec(
            self.container, self.name, self.runtime, labels, secrets_dir=secrets_dir
        )
        return create_argv(spec, engine.endpoint.cli)

    async def command_lines(self) -> list[list[str]]:
        """``command_line``, then the ``network connect`` of each later network."""
        engine = await self.context.engines.get(self.runtime)
        spec = container_spec(self.container, self.name, self.runtime)
        return [await self.command_line(), *connect_argvs(spec, engine.endpoint.cli)]

    def details(self, handle: Handle | None) -> dict[str, Any]:
        notes = [*(_run_of(handle).notes if handle is not None else ())]
        if self.update_note:
            notes.insert(0, self.update_note)
        return {
            "container_id": handle.id[:12] if handle is not None else None,
            "health": _run_of(handle).health if handle is not None else None,
            "image": image_reference(self.container.image),
            "note": "; ".join(notes) or None,
        }
