"""Declared networks and volumes: created when absent, drift reported, never
deleted unless asked (``corral down --volumes``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.config import Network, Volume
from corral.engine.api import ApiError, path_of
from corral.engine.client import Engine, EngineError
from corral.engine.runner import Invocation, run_cli
from corral.render.commands import network_create_command, volume_create_command


@dataclass(frozen=True)
class Drift:
    """One declared parameter that differs on the engine."""

    field: str
    declared: object
    actual: object

    def __str__(self) -> str:
        return f"{self.field}: declared {self.declared!r}, engine has {self.actual!r}"


def network_drift(network: Network, inspected: dict[str, Any]) -> list[Drift]:
    """How the engine's network differs from the declaration. Pure.

    Fields the declaration leaves unset (subnet, gateway, ip_range) are not
    compared: the engine picks them."""
    drift: list[Drift] = []

    def compare(field: str, declared: object, actual: object) -> None:
        if declared != actual:
            drift.append(Drift(field, declared, actual))

    compare("driver", network.driver, inspected.get("Driver"))
    compare("internal", network.internal, bool(inspected.get("Internal")))
    compare("ipv6", network.ipv6, bool(inspected.get("EnableIPv6")))
    configs = ((inspected.get("IPAM") or {}).get("Config")) or []
    ipv4: dict[str, Any] = next((c for c in configs if ":" not in str(c.get("Subnet", ""))), {})
    for field, key in (("subnet", "Subnet"), ("gateway", "Gateway"), ("ip_range", "IPRange")):
        declared = getattr(network, field)
        if declared is not None:
            compare(field, declared, ipv4.get(key) or None)
    labels = inspected.get("Labels") or {}
    for key, value in network.labels.items():
        compare(f"labels.{key}", value, labels.get(key))
    return drift


def volume_drift(volume: Volume, inspected: dict[str, Any]) -> list[Drift]:
    """How the engine's volume differs from the declaration. Pure."""
    drift: list[Drift] = []
    if volume.driver != inspected.get("Driver"):
        drift.append(Drift("driver", volume.driver, inspected.get("Driver")))
    labels = inspected.get("Labels") or {}
    for key, value in volume.labels.items():
        if labels.get(key) != value:
            drift.append(Drift(f"labels.{key}", value, labels.get(key)))
    return drift


@dataclass(frozen=True)
class Ensured:
    """What ``ensure_*`` found: whether it created the object, and any drift."""

    name: str
    created: bool
    drift: tuple[Drift, ...] = ()


async def _show(engine: Engine, kind: str, name: str) -> dict[str, Any] | None:
    """``kind`` is "network" or "volume"."""
    try:
        data: dict[str, Any] = await engine.api.get(path_of(kind + "s", name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise EngineError(f"inspect {kind} {name}: {exc.message}") from exc
    return data


async def _delete(engine: Engine, kind: str, name: str) -> bool:
    try:
        await engine.api.delete(path_of(kind + "s", name))
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise EngineError(f"remove {kind} {name}: {exc.message}") from exc
    return True


async def inspect_network(engine: Engine, name: str) -> dict[str, Any] | None:
    """The engine's network document, or None when absent."""
    return await _show(engine, "network", name)


async def inspect_volume(engine: Engine, name: str) -> dict[str, Any] | None:
    """The engine's volume document, or None when absent."""
    return await _show(engine, "volume", name)


async def ensure_network(engine: Engine, network: Network) -> Ensured:
    """Create ``network`` when absent (through the CLI, so extra_arguments
    apply); otherwise report how it drifted from the declaration."""
    found = await inspect_network(engine, network.name)
    if found is not None:
        return Ensured(network.name, False, tuple(network_drift(network, found)))
    argv = network_create_command(network, engine.runtime, engine.endpoint.cli)
    await run_cli(argv, Invocation(timeout=60))
    return Ensured(network.name, True)


async def ensure_volume(engine: Engine, volume: Volume) -> Ensured:
    """Create ``volume`` when absent; otherwise report its drift."""
    found = await inspect_volume(engine, volume.name)
    if found is not None:
        return Ensured(volume.name, False, tuple(volume_drift(volume, found)))
    argv = volume_create_command(volume, engine.runtime, engine.endpoint.cli)
    await run_cli(argv, Invocation(timeout=60))
    return Ensured(volume.name, True)


async def network_drift_of(engine: Engine, network: Network) -> list[Drift] | None:
    """Drift of ``network`` on the engine (for ``plan``); None when absent."""
    found = await inspect_network(engine, network.name)
    return None if found is None else network_drift(network, found)


async def volume_drift_of(engine: Engine, volume: Volume) -> list[Drift] | None:
    found = await inspect_volume(engine, volume.name)
    return None if found is None else volume_drift(volume, found)


async def remove_network(engine: Engine, name: str) -> bool:
    """Delete a network — only on explicit request. False when absent."""
    return await _delete(engine, "network", name)


async def remove_volume(engine: Engine, name: str) -> bool:
    """Delete a volume — only with ``corral down --volumes``. False when absent."""
    return await _delete(engine, "volume", name)


async def connect(engine: Engine, network: str, body: dict[str, Any]) -> None:
    """Join a container to ``network`` (``POST /networks/{id}/connect``; ``body``
    from ``render.container.connect_documents``)."""
    try:
        await engine.api.post(path_of("networks", network, "connect"), None, body)
    except ApiError as exc:
        raise EngineError(
            f"connect {str(body.get('Container', ''))[:12]} to network {network}: {exc.message}"
        ) from exc
