"""Container lifecycle on one engine: stale removal, adoption, create and
start, graceful stop, exit and health.

The create sends the spec's API document (``render.container.create_document``);
only a spec the API cannot say (``ContainerSpec.cli_only``: extra_arguments are
CLI flags, ``--env NAME`` reads host_environment from the CLI's environment)
goes through the CLI (``render.container.create_argv``, run by
``runner.run_cli`` as the container's user, pointed at the endpoint's engine).
Everything after that — start, inspect, stop, remove, wait — uses the engine's
API connection, so a supervised container costs no process of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from dataclasses import dataclass
from typing import Any

from corral.config import OciContainer
from corral.engine.api import ApiError, TransportError, path_of
from corral.engine.client import Engine, EngineError
from corral.engine.events import Subscription
from corral.engine.images import EngineImages
from corral.engine.networks import connect as connect_network
from corral.engine.runner import Invocation, cli_identity, run_cli
from corral.render.container import (
    connect_documents,
    create_argv,
    create_document,
    create_query,
)
from corral.render.identity import HASH_LABEL, INSTANCE_LABEL, SERVICE_LABEL
from corral.render.spec import ContainerSpec
from corral.runtimes import Runtime

#: Seconds the API may take beyond a stop timeout before corral gives up.
API_GRACE = 15.0


class NameTaken(EngineError):
    """Another container already has the name (created meanwhile)."""


@dataclass(frozen=True)
class LabelledContainer:
    """A container carrying corral's labels, as the engine reports it."""

    id: str
    name: str
    service: str
    config_hash: str
    state: str  # created, running, exited, …
    started_at: str
    health: str | None


def invocation_for(
    container: OciContainer, runtime: Runtime, timeout: float | None = 120.0
) -> Invocation:
    """How the CLI runs for ``container``: its identity, its host environment."""
    return Invocation(
        identity=cli_identity(runtime, container.user, container.group),
        host_environment=container.host_environment,
        timeout=timeout,
    )


def _short(name_or_id: str) -> str:
    """A container ID as people see it (12 digits); a name as it is."""
    is_id = len(name_or_id) == 64 and all(c in "0123456789abcdef" for c in name_or_id)
    return name_or_id[:12] if is_id else name_or_id


def _path(name_or_id: str, *rest: str) -> str:
    return path_of("containers", name_or_id, *rest)


async def inspect(engine: Engine, name_or_id: str) -> dict[str, Any] | None:
    """The engine's inspect document, or None when no such container exists."""
    try:
        data: dict[str, Any] = await engine.api.get(_path(name_or_id, "json"))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise EngineError(f"inspect {name_or_id}: {exc.message}") from exc
    return data


def _labels(data: dict[str, Any]) -> dict[str, str]:
    return dict((data.get("Config") or {}).get("Labels") or {})


def _health(data: dict[str, Any]) -> str | None:
    health = (data.get("State") or {}).get("Health") or {}
    status = health.get("Status")
    return str(status) if status else None


def _labelled(data: dict[str, Any]) -> LabelledContainer:
    labels, state = _labels(data), data.get("State") or {}
    return LabelledContainer(
        id=str(data["Id"]),
        name=str(data.get("Name", "")).lstrip("/"),
        service=labels.get(SERVICE_LABEL, ""),
        config_hash=labels.get(HASH_LABEL, ""),
        state=str(state.get("Status", "")),
        started_at=str(state.get("StartedAt", "")),
        health=_health(data),
    )


async def labelled(engine: Engine, instance: str = "") -> list[LabelledContainer]:
    """Every container (running or not) that carries corral's service label —
    of ``instance`` only, when given."""
    wanted = [SERVICE_LABEL] + ([f"{INSTANCE_LABEL}={instance}"] if instance else [])
    found = await _list(engine, {"all": True, "filters": json.dumps({"label": wanted})})
    docs = await asyncio.gather(*(inspect(engine, str(c["Id"])) for c in found))
    return [_labelled(d) for d in docs if d is not None and SERVICE_LABEL in _labels(d)]


def _adoptable(data: dict[str, Any], name: str, hash_: str, instance: str) -> bool:
    """Running, and created by corral (``instance``, when given) for service
    ``name`` from a declaration hashing to ``hash_``."""
    labels = _labels(data)
    return bool(
        (data.get("State") or {}).get("Running")
        and labels.get(SERVICE_LABEL) == name
        and labels.get(HASH_LABEL) == hash_
        and (not instance or labels.get(INSTANCE_LABEL) == instance)
    )


async def adoptable(engine: Engine, name: str, hash_: str, instance: str = "") -> str | None:
    """The ID of the container ``name`` when it is adoptable, else None."""
    data = await inspect(engine, name)
    return str(data["Id"]) if data is not None and _adoptable(data, name, hash_, instance) else None


async def names(engine: Engine) -> set[str]:
    """The names of every container the engine has, running or not (one call)."""
    found = await _list(engine, {"all": True})
    return {str(n).lstrip("/") for c in found for n in (c.get("Names") or [])}


async def _list(engine: Engine, params: dict[str, str | bool]) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = await engine.api.get("/containers/json", params)
    except ApiError as exc:
        raise EngineError(f"list containers: {exc.message}") from exc
    return found or []


async def claim_done(engine: Engine, name: str, hash_: str, instance: str) -> str | None:
    """The ID of the container ``name`` when it is a one-shot that ran to completion
    (exited 0, never restarted by the engine) from this declaration (service, hash
    and ``instance`` match): its work is done, so it is adopted as done, not run
    again. None otherwise (the container, if any, is left for ``claim``)."""
    data = await inspect(engine, name)
    if data is None:
        return None
    state = data.get("State") or {}
    labels = _labels(data)
    done = (
        not state.get("Running")
        and state.get("Status") in ("exited", "stopped")
        and state.get("ExitCode") == 0
        and labels.get(SERVICE_LABEL) == name
        and labels.get(HASH_LABEL) == hash_
        and labels.get(INSTANCE_LABEL) == instance
    )
    return str(data["Id"]) if done else None


async def claim(
    engine: Engine, name: str, hash_: str, instance: str = "", timeout: float = 10.0
) -> str | None:
    """One look at the container called ``name``: the ID of a running one that
    is adoptable (service, hash and instance match), else None after removing
    whatever stood under that name (stopped gracefully first)."""
    data = await inspect(engine, name)
    if data is None:
        return None
    if _adoptable(data, name, hash_, instance):
        return str(data["Id"])
    await stop(engine, str(data["Id"]), timeout)
    return None


async def create(engine: Engine, spec: ContainerSpec, invocation: Invocation) -> str:
    """Create (not start) ``spec`` — through the Engine API when the spec allows,
    else the CLI (``invocation``: the container's user, its host environment);
    its full ID. The image is made present first (``images.present``), never
    pulled here. The networks after the first are connected before it returns
    (``spec.connects``; dockerd 20.10 joins one network at create)."""
    container_id = await _create(engine, spec, invocation)
    if spec.connects:
        try:
            for network, body in connect_documents(spec, container_id):
                await connect_network(engine, network, body)
        except BaseException:
            with contextlib.suppress(EngineError):
                await remove(engine, container_id)
            raise
    return container_id


async def _create(engine: Engine, spec: ContainerSpec, invocation: Invocation) -> str:
    document = create_document(spec)
    if document is None:
        done = await run_cli(create_argv(spec, engine.endpoint.cli), invocation)
        lines = done.stdout.strip().splitlines()
        if not lines:
            raise EngineError(f"{engine.runtime} create {spec.name}: printed no container ID")
        return lines[-1].strip()
    try:
        created = await engine.api.post("/containers/create", create_query(spec), document)
    except ApiError as exc:
        if exc.status == 409:
            raise NameTaken(f"create {spec.name}: {exc.message}") from exc
        if exc.status == 404 and await EngineImages(engine).image_id(spec.image) is None:
            raise EngineError(
                f"create {spec.name}: {engine.endpoint} has no image {spec.image}"
            ) from exc
        raise EngineError(f"create {spec.name}: {exc.message}") from exc
    return str(created["Id"])


async def start(engine: Engine, container_id: str) -> None:
    try:
        await engine.api.post(_path(container_id, "start"))
    except ApiError as exc:
        raise EngineError(f"start {container_id[:12]}: {exc.message}") from exc


async def create_and_start(engine: Engine, spec: ContainerSpec, invocation: Invocation) -> str:
    """Create ``spec`` (labelled by the caller) and start it; its ID. A
    container that fails to start is removed."""
    container_id = await create(engine, spec, invocation)
    (await start_watched(engine, container_id)).close()
    return container_id


async def stop(
    engine: Engine, name_or_id: str, timeout: float = 10.0, signal: str | None = None
) -> int | None:
    """Stop gracefully — ``signal`` (default: the container's stop signal),
    SIGKILL after ``timeout`` s — then remove it with its anonymous volumes.
    Returns the exit code, or None when there was no such container. The
    whole stop must end within ``timeout`` + ``API_GRACE`` seconds; an engine
    that does not answer by then raises ``EngineError`` (the container stays,
    labelled, for a retry or an adoption)."""
    deadline = max(0, math.ceil(timeout)) + API_GRACE
    try:
        return await asyncio.wait_for(_stop(engine, name_or_id, timeout, signal), deadline)
    except TimeoutError:
        raise EngineError(
            f"stop {_short(name_or_id)}: {engine.endpoint} did not answer within {deadline:g}s"
        ) from None


async def _stop(engine: Engine, name_or_id: str, timeout: float, signal: str | None) -> int | None:
    api = engine.api
    seconds = max(0, math.ceil(timeout))
    try:
        if signal is not None:
            # API 1.41 (dockerd 20.10) has no signal on stop: send it, then wait.
            with contextlib.suppress(ApiError):  # 409: not running
                await api.post(_path(name_or_id, "kill"), {"signal": signal})
            try:
                await asyncio.wait_for(api.post(_path(name_or_id, "wait"), timeout=None), timeout)
            except TimeoutError:
                seconds = 0
        grace = seconds + API_GRACE
        await api.post(_path(name_or_id, "stop"), {"t": seconds}, timeout=grace)
        data = await api.get(_path(name_or_id, "json"))
        await api.delete(_path(name_or_id), {"force": True, "v": True})
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise EngineError(f"stop {name_or_id}: {exc.message}") from exc
    except TransportError as exc:
        raise EngineError(f"stop {_short(name_or_id)}: {engine.endpoint}: {exc}") from None
    code = (data.get("State") or {}).get("ExitCode")
    return int(code) if code is not None else None


#: What a runner's dead container is renamed with (``set_aside``).
ASIDE = ".exited-"


def aside_name(name: str, container_id: str) -> str:
    """The name the dead container ``container_id`` of service ``name`` takes while
    its successor starts (unique: it holds the container's ID)."""
    return f"{name}{ASIDE}{container_id[:12]}"


def set_aside_of(service: str, name: str) -> bool:
    """Whether container ``name`` is a dead container of ``service`` set aside."""
    return name.startswith(f"{service}{ASIDE}")


async def set_aside(engine: Engine, name: str, container_id: str) -> bool:
    """Free ``name``, held by its dead container ``container_id``, by renaming that
    one (``aside_name``): the engine has no layer to delete before the successor
    is created, and the old one is removed afterwards. False when it was gone."""
    try:
        await engine.api.post(
            _path(container_id, "rename"), {"name": aside_name(name, container_id)}
        )
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise EngineError(f"rename {container_id[:12]}: {exc.message}") from exc
    return True


async def remove(engine: Engine, container_id: str) -> None:
    """Remove a container that is no longer running (with its anonymous volumes);
    one that is already gone is fine."""
    try:
        await engine.api.delete(_path(container_id), {"force": True, "v": True})
    except ApiError as exc:
        if exc.status != 404:
            raise EngineError(f"remove {container_id[:12]}: {exc.message}") from exc


async def start_watched(engine: Engine, container_id: str) -> Subscription:
    """Subscribe to the container's events, then start it: its exit cannot be
    missed, so ``wait_subscribed`` needs no inspect (``wait_exit`` does). A
    container that fails to start is removed, as the seed's ``run --rm`` was."""
    subscription = engine.events.subscribe(container_id)
    try:
        await engine.events.connected()
        await start(engine, container_id)
    except BaseException:
        subscription.close()
        with contextlib.suppress(EngineError):
            await remove(engine, container_id)
        raise
    return subscription


async def start_again(engine: Engine, container_id: str) -> Subscription | None:
    """Start the exited container ``container_id`` again, as it is (its engine
    went away under it), watched as ``start_watched`` does; None when it is
    gone. One that fails to start is removed."""
    subscription = engine.events.subscribe(container_id)
    try:
        await engine.events.connected()
        await engine.api.post(_path(container_id, "start"))
    except ApiError as exc:
        subscription.close()
        if exc.status == 404:
            return None
        with contextlib.suppress(EngineError):
            await remove(engine, container_id)
        raise EngineError(f"start {container_id[:12]}: {exc.message}") from exc
    except BaseException:
        subscription.close()
        raise
    return subscription


async def wait_subscribed(engine: Engine, subscription: Subscription, container_id: str) -> int:
    """The exit code of a container started by ``start_watched``."""
    with subscription:
        while True:
            event = await subscription.get()
            if event.kind != "die":
                continue
            if event.exit_code is not None:
                return event.exit_code
            data = await inspect(engine, container_id)
            return int(((data or {}).get("State") or {}).get("ExitCode", -1))


async def wait_exit(engine: Engine, container_id: str) -> int:
    """Wait until ``container_id`` (full ID) exits; its exit code. Learnt from
    the engine's one events stream, not a connection per container; the
    inspect after subscribing catches an exit that came before."""
    subscription = engine.events.subscribe(container_id)
    try:
        await engine.events.connected()
        data = await inspect(engine, container_id)
        if data is None:
            raise EngineError(f"container {container_id[:12]} does not exist")
        state = data.get("State") or {}
        if not state.get("Running") and state.get("Status") != "created":
            subscription.close()
            return int(state.get("ExitCode", -1))
    except BaseException:
        subscription.close()
        raise
    return await wait_subscribed(engine, subscription, container_id)


async def inspect_health(engine: Engine, container_id: str) -> str | None:
    """Health: "starting", "healthy", "unhealthy", or None (no health check)."""
    data = await inspect(engine, container_id)
    return _health(data) if data is not None else None
