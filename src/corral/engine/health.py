"""Health checks, the same way on both engines: corral learns of health
changes from the one events stream (``health_status``) and reads the status
by inspecting.

Docker runs a container's health check itself. Podman 4.3 would run it from
systemd timers, and no systemd runs here, so its status would stay
``starting``: ``drive_podman_health`` runs ``podman healthcheck run NAME``
every ``health_interval`` seconds itself (each run also emits a
``health_status`` event, so watching stays uniform).
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
    while True:
        await asyncio.sleep(container.health_interval)
        try:
            await run_cli(podman_healthcheck_command(name), invocation)
        except CommandError as exc:
            if await inspect(engine, name) is None or "not running" in exc.stderr:
                return


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
