"""Health checks, the same way on both engines: corral learns of health
changes from the one events stream (``health_status``) and reads the status
by inspecting.

Docker runs a container's health check itself. Podman 4.3 would run it from
systemd timers, and no systemd runs here, so its status would stay
``starting``: ``drive_podman_health`` runs ``podman healthcheck run NAME``
every ``health_interval`` seconds itself (each run also emits a
``health_status`` event, so watching stays uniform).

``health_start_interval`` (Docker's ``StartInterval``, API 1.44) is honoured
by corral on both engines, as neither dockerd 20.10 (API 1.41) nor Podman 4.3
has it: on Podman, ``drive_podman_health`` runs the check every
``health_start_interval`` during ``health_start_period`` until one passes,
then every ``health_interval`` — the engine's own status follows. On docker,
``start_checks`` runs the check command in the container (an exec: the argv
of the exec form, ``/bin/sh -c CMD`` of the shell form) every
``health_start_interval`` during the start period; the first that passes
makes the container ready for its dependents, as a healthy status would.
dockerd's own status turns at its first check (``health_interval``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from corral.config import OciContainer
from corral.engine.client import Engine, EngineError
from corral.engine.containers import inspect, inspect_health
from corral.engine.runner import Invocation, run_cli
from corral.errors import CommandError
from corral.render.commands import podman_healthcheck_command


def needs_driving(engine: Engine, container: OciContainer) -> bool:
    """Whether corral must run this container's health checks itself."""
    return engine.runtime == "podman" and container.health_cmd is not None


async def drive_podman_health(engine: Engine, name: str, container: OciContainer) -> None:
    """Run ``podman healthcheck run NAME`` every health_interval (the first
    after health_interval, as Docker does) until cancelled or the container
    is gone. A failing check is not an error: its result is the status."""
    if not needs_driving(engine, container):
        return
    invocation = Invocation(timeout=container.health_timeout + 30)
    loop = asyncio.get_running_loop()
    starting = loop.time()
    passed = False
    while True:
        await asyncio.sleep(_next_check(container, loop.time() - starting, passed))
        try:
            await run_cli(podman_healthcheck_command(name), invocation)
            passed = True
        except CommandError as exc:
            if await inspect(engine, name) is None or "not running" in exc.stderr:
                return


def _next_check(container: OciContainer, since_start: float, passed: bool) -> float:
    """Seconds to the next check: health_start_interval while in the start period
    and no check passed yet (when declared), else health_interval."""
    early = container.health_start_interval
    if early is not None and not passed and since_start < container.health_start_period:
        return early
    return container.health_interval


def check_argv(container: OciContainer) -> list[str]:
    """The argv a health check runs in the container: the exec form as it is,
    the shell form through ``/bin/sh -c`` (as the engines run ``CMD-SHELL``)."""
    command = container.health_cmd
    assert command is not None
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


def checks_start_itself(engine: Engine, container: OciContainer) -> bool:
    """Whether corral runs the start period's checks on docker (``start_checks``)."""
    return (
        engine.runtime == "docker"
        and container.health_cmd is not None
        and container.health_start_interval is not None
        and container.health_start_period > 0
    )


async def start_checks(engine: Engine, container_id: str, container: OciContainer) -> None:
    """Return once a check run every health_start_interval during the start period
    passes (see the module's doc); past the period, wait for ever (the engine's
    status decides then)."""
    from corral.engine.api import ApiError, path_of

    assert container.health_start_interval is not None
    loop = asyncio.get_running_loop()
    until = loop.time() + container.health_start_period
    body = {"Cmd": check_argv(container), "AttachStdout": False, "AttachStderr": False}
    while loop.time() < until:
        await asyncio.sleep(container.health_start_interval)
        try:
            async with asyncio.timeout(container.health_timeout):
                made = await engine.api.post(
                    path_of("containers", container_id, "exec"), None, body
                )
                exec_id = str(made["Id"])
                await engine.api.post(path_of("exec", exec_id, "start"), None, {"Detach": True})
                while True:
                    info = await engine.api.get(path_of("exec", exec_id, "json"))
                    if not info.get("Running"):
                        break
                    await asyncio.sleep(0.05)
        except (ApiError, OSError, TimeoutError, KeyError):
            continue  # a failed check (or the container gone: its exit says so)
        if info.get("ExitCode") == 0:
            return
    await asyncio.Future()  # the engine's own checks decide from here


async def health_changes(engine: Engine, container_id: str) -> AsyncIterator[str]:
    """The container's health status now, then each change, until it dies.
    Nothing when it has no health check."""
    with engine.events.subscribe(container_id) as events:
        await engine.events.connected()
        last = await inspect_health(engine, container_id)
        if last is None:
            return
        yield last
        while True:
            event = await events.get()
            if event.kind == "die":
                return
            if event.kind != "health_status":
                continue
            status = event.health or await inspect_health(engine, container_id)
            if status is not None and status != last:
                last = status
                yield status


async def wait_healthy(engine: Engine, container_id: str, timeout: float | None = None) -> None:
    """Return once the container is healthy; ``EngineError`` if it turns
    unhealthy, dies, has no health check, or ``timeout`` passes first."""

    async def until_healthy() -> None:
        async for status in health_changes(engine, container_id):
            if status == "healthy":
                return
            if status == "unhealthy":
                raise EngineError("unhealthy: its health check kept failing")
        raise EngineError("exited, or has no health check, before turning healthy")

    try:
        await asyncio.wait_for(until_healthy(), timeout)
    except TimeoutError:
        status = None
        with contextlib.suppress(EngineError):
            status = await inspect_health(engine, container_id)
        raise EngineError(f"not healthy within {timeout:g} s (health: {status})") from None
