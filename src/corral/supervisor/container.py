"""The container runner: a ``[[container]]`` as a supervised service.

Start removes a stale container of the same name (unless it is adoptable),
loads the image of an image record (skipped when the engine has that image
ID), then creates the container with the CLI — as the declared user/group,
host_environment in the CLI's environment only — and starts it, labelled with
its service and the hash of its declaration. A running container whose labels
match is adopted instead, so a restarted daemon (even after kill -9) takes
its containers back without restarting them.

Exits, health changes and log lines come through the runtime's one engine
connection. Stop is graceful: stop_signal, stop_timeout, then removal. A
container that exits by itself is kept (with its logs) until its respawn,
which renames it out of the way (``<name>.exited-<id>``), creates and starts
its successor, then removes it; one a crash left renamed goes at the next
start, and at ``down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

from corral.config import OciContainer, OciImage
from corral.config.services import image_reference
from corral.errors import CorralError
from corral.render.engine import INSTANCE_LABEL, config_hash, corral_labels, create_command
from corral.runtimes import Runtime
from corral.supervisor.engines import hash_key
from corral.supervisor.runner import Handle, RunContext

log = logging.getLogger("corral.supervisor")

if TYPE_CHECKING:
    from corral.engine.client import Engine
    from corral.engine.events import Subscription

#: Seconds beyond the worst case of a health check's own timing before
#: a dependent stops waiting for the container to turn healthy.
HEALTH_GRACE = 30.0


def health_deadline(container: OciContainer) -> float:
    """How long a start may wait for ``healthy``: start period, then every
    retry at its interval and timeout, plus a grace."""
    per_try = container.health_interval + container.health_timeout
    return container.health_start_period + (container.health_retries + 1) * per_try + HEALTH_GRACE


#: Removals of dead containers set aside by respawns, still running.
_set_aside_removals: set[asyncio.Future[None]] = set()


def _removed(removal: asyncio.Future[None]) -> None:
    _set_aside_removals.discard(removal)
    if not removal.cancelled() and removal.exception() is not None:
        log.warning("removing a dead container: %s", removal.exception())


class ContainerRunner:
    one_shot = False

    def __init__(
        self, name: str, container: OciContainer, runtime: Runtime, context: RunContext
    ) -> None:
        self.name = name
        self.container = container
        self.runtime = runtime
        self.context = context
        self.health: str | None = None
        self.adopted = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._unhealthy = asyncio.Event()
        self._stopping: asyncio.Future[int | None] | None = None
        #: the events of the container this runner started (None when adopted)
        self._exit_watch: Subscription | None = None
        #: this runner's container that exited by itself, kept (for its logs) until
        #: the next start sets it aside (renames it) and then removes it
        self._dead: str | None = None

    # -- start ----------------------------------------------------------------

    async def start(self) -> Handle:
        from corral.engine import containers, health, images

        hub = self.context.engines
        engine = await hub.get(self.runtime)
        image = self.container.image
        image_id = asyncio.ensure_future(hub.once(f"{self.runtime} image {image_reference(image)}",
            lambda: images.present(engine, image, state_dir=self.context.state_dir)))  # fmt: skip
        dead, self._dead = self._dead, None
        aside = False
        try:
            if dead is not None:
                # A respawn: the name is held by this runner's own dead container. It
                # is renamed out of the way (no listing, inspect or stop, no layer to
                # delete first) while the image is looked up, and removed afterwards.
                aside = await containers.set_aside(engine, self.name, dead)
                taken: set[str] = set()
            else:
                taken = await hub.once(f"{self.runtime} names", lambda: containers.names(engine))
                await self._remove_set_aside(engine, taken)
            key = hash_key(self.context.state_dir)
            hash_ = config_hash(self.container, self.runtime, await image_id, key)
            instance = self.context.state_dir
            timeout = self.container.stop_timeout
            async with hub.gate:
                container_id = None
                if self.name in taken:  # one listing spares an inspect per new container
                    container_id = await containers.claim(
                        engine, self.name, hash_, instance, timeout
                    )
                self.adopted = container_id is not None
                if container_id is None:
                    container_id, self.adopted = await self._create(
                        engine, hash_, instance, timeout
                    )
                if not self.adopted:
                    self._exit_watch = await containers.start_watched(engine, container_id)
        finally:
            image_id.cancel()  # when something failed first (the lookup itself is shared)
            if aside:
                assert dead is not None
                removing = asyncio.ensure_future(containers.remove(engine, dead))
                _set_aside_removals.add(removing)  # not cancelled with this run's tasks
                removing.add_done_callback(_removed)
        self._unhealthy.clear()
        self._stopping = None
        self.health = None
        self._side_task(self._follow_logs(engine, container_id))
        if self.container.health_cmd is not None:
            self._side_task(self._watch_health(engine, container_id))
            if health.needs_driving(engine, self.container):
                self._side_task(health.drive_podman_health(engine, self.name, self.container))
        return Handle(id=container_id)

    async def _remove_set_aside(self, engine: Engine, taken: set[str]) -> None:
        """Remove this service's dead containers that a respawn set aside and a
        crash kept from removing (they are this corral's: its instance label)."""
        from corral.engine import containers

        for name in sorted(n for n in taken if containers.set_aside_of(self.name, n)):
            data = await containers.inspect(engine, name)
            labels = ((data or {}).get("Config") or {}).get("Labels") or {}
            if data is not None and labels.get(INSTANCE_LABEL) == self.context.state_dir:
                await containers.remove(engine, str(data["Id"]))

    async def _create(
        self, engine: Engine, hash_: str, instance: str, timeout: float
    ) -> tuple[str, bool]:
        """A new container's ID, or — when one of that name appeared since the
        listing — the adopted one's: (ID, adopted)."""
        from corral.engine import containers

        try:
            created = await containers.create(engine, self.container, self.name, hash_, instance)
        except containers.NameTaken:
            adopted = await containers.claim(engine, self.name, hash_, instance, timeout)
            if adopted is not None:
                return adopted, True
            created = await containers.create(engine, self.container, self.name, hash_, instance)
        return created, False

    def _side_task(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow_logs(self, engine: Engine, container_id: str) -> None:
        path = self.container.log_file
        if path is None:
            return  # `corral logs` reads the engine's log
        from corral.engine.logs import follow

        since = None
        if self.adopted:
            with contextlib.suppress(OSError):
                since = os.stat(path).st_mtime  # what the last daemon wrote is kept
        log = self.context.logs.get(path)  # created 0640, rotated as processes' logs
        with contextlib.suppress(Exception):
            await follow(engine, container_id, log.write, since=since)

    async def _watch_health(self, engine: Engine, container_id: str) -> None:
        from corral.engine.health import health_changes

        with contextlib.suppress(Exception):
            async for status in health_changes(engine, container_id):
                self.health = status
                if status == "unhealthy" and self.container.on_unhealthy == "restart":
                    self._unhealthy.set()

    # -- ready, wait, stop -----------------------------------------------------

    async def ready(self, handle: Handle) -> None:
        """Running once healthy, when a health check is declared: dependents wait
        for that on every start (up, restart, respawn, reload)."""
        if self.container.health_cmd is None:
            return
        from corral.engine.health import wait_healthy

        engine = await self.context.engines.get(self.runtime)
        await wait_healthy(engine, handle.id, health_deadline(self.container))
        self.health = "healthy"

    async def wait(self, handle: Handle) -> int | None:
        from corral.engine.containers import wait_exit, wait_subscribed

        engine = await self.context.engines.get(self.runtime)
        watch, self._exit_watch = self._exit_watch, None
        exited = asyncio.ensure_future(
            wait_exit(engine, handle.id)
            if watch is None
            else wait_subscribed(engine, watch, handle.id)
        )
        unhealthy = asyncio.ensure_future(self._unhealthy.wait())
        try:
            await asyncio.wait({exited, unhealthy}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            unhealthy.cancel()
        if not exited.done():
            # on_unhealthy = "restart": stop it; its death goes through the respawn policy
            self._stop(engine, handle)
        code = await exited
        if self._stopping is None:
            self._dead = handle.id  # it died on its own; the next start removes it
        else:
            # the service is stopped once its container is gone, not merely dead
            with contextlib.suppress(Exception):
                await asyncio.shield(self._stopping)
        return code

    async def stop(self, handle: Handle) -> int | None:
        engine = await self.context.engines.get(self.runtime)
        return await asyncio.shield(self._stop(engine, handle))

    def _stop(self, engine: Engine, handle: Handle) -> asyncio.Future[int | None]:
        """The one graceful stop of this run (signal, timeout, then removal)."""
        from corral.engine.containers import stop

        if self._stopping is None:

            async def stopping() -> int | None:
                try:
                    return await stop(
                        engine, handle.id, self.container.stop_timeout, self.container.stop_signal
                    )
                finally:
                    for task in list(self._tasks):
                        task.cancel()

            self._stopping = asyncio.ensure_future(stopping())
        return self._stopping

    async def pull(self) -> str:
        """The ``pull`` action: fetch a string image anew from its registry."""
        from corral.engine.pull import pull

        image = self.container.image
        if isinstance(image, OciImage):
            raise CorralError(
                f"{self.name}: pull is for images named by a string; {image.reference} is "
                "built or loaded by corral (`corral image build`)"
            )
        await pull(await self.context.engines.get(self.runtime), image)
        return f"pulled {image}"

    # -- for people -------------------------------------------------------------

    def describe(self, handle: Handle) -> str:
        return f"container {handle.id[:12]}"

    def command_line(self) -> list[str]:
        """The exact command corral runs to create the container (labels included)."""
        hash_ = config_hash(self.container, self.runtime, None, hash_key(self.context.state_dir))
        return create_command(
            self.container,
            self.name,
            self.runtime,
            corral_labels(self.name, hash_, self.context.state_dir),
        )

    def details(self, handle: Handle | None) -> dict[str, Any]:
        return {
            "container_id": handle.id[:12] if handle is not None else None,
            "health": self.health if handle is not None else None,
            "image": image_reference(self.container.image),
        }
