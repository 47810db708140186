"""What the engine holds beyond the running services: containers corral
labelled for services no longer declared (orphans), and the drift of declared
networks and volumes. ``plan`` reports them, ``reload`` and ``down`` act.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.config import Config, declared_services
from corral.runtimes import Runtime
from corral.supervisor.engines import EngineHub


@dataclass(frozen=True)
class Orphan:
    runtime: Runtime
    service: str
    container_id: str


def uses_engine(config: Config) -> bool:
    return bool(config.containers or config.networks or config.volumes)


def runtimes(hub: EngineHub, config: Config) -> list[Runtime]:
    """The runtimes whose engines hold corral's containers: the configuration's
    (when it declares any engine object) and every one connected."""
    found = {e.runtime for e in hub.connected()}
    if uses_engine(config):
        found.add(config.runtime)
    return sorted(found)


async def orphans(
    hub: EngineHub, config: Config, instance: str, keep: set[str] | None = None
) -> list[Orphan]:
    """Containers this corral ``instance`` labelled for services outside ``keep``
    (default: the containers ``config`` declares), on its runtime and every
    connected engine."""
    from corral.engine.containers import labelled

    declared = (
        keep
        if keep is not None
        else {s.name for s in declared_services(config) if s.kind == "container"}
    )
    found: list[Orphan] = []
    for runtime in runtimes(hub, config):
        engine = await hub.get(runtime)
        for container in await labelled(engine, instance):
            if container.service not in declared:
                found.append(Orphan(runtime, container.service, container.id))
    return found


async def remove_orphans(hub: EngineHub, found: list[Orphan], timeout: float = 10.0) -> None:
    """Stop gracefully and remove each orphan."""
    from corral.engine.containers import stop

    for orphan in found:
        await stop(await hub.get(orphan.runtime), orphan.container_id, timeout)


async def drifted_objects(hub: EngineHub, config: Config) -> dict[str, str]:
    """Declared networks and volumes whose live parameters differ: service → why."""
    from corral.config.services import network_service, volume_service
    from corral.engine.networks import network_drift_of, volume_drift_of

    if not (config.networks or config.volumes):
        return {}
    engine = await hub.get(config.runtime)
    out: dict[str, str] = {}
    for network in config.networks:
        name = network_service(config.runtime, network.name)
        drift = await network_drift_of(engine, network)
        if drift:
            out[name] = "live network differs: " + "; ".join(map(str, drift))
    for volume in config.volumes:
        name = volume_service(config.runtime, volume.name)
        drift = await volume_drift_of(engine, volume)
        if drift:
            out[name] = "live volume differs: " + "; ".join(map(str, drift))
    return out


async def remove_objects(hub: EngineHub, config: Config) -> list[str]:
    """Delete the declared networks and volumes (``corral down --volumes``)."""
    from corral.engine.networks import remove_network, remove_volume

    if not (config.networks or config.volumes):
        return []
    engine = await hub.get(config.runtime)
    removed: list[str] = []
    for volume in config.volumes:
        if await remove_volume(engine, volume.name):
            removed.append(f"volume {volume.name}")
    for network in config.networks:
        if await remove_network(engine, network.name):
            removed.append(f"network {network.name}")
    return removed
