"""A project name applied as Compose v2 applies it (top-level ``project``).

Containers are called ``PROJECT-NAME-1``, networks and volumes
``PROJECT_NAME``; requirements, network attachments and volume sources follow
the new names, and each container keeps its unprefixed name as a DNS alias on
its user-defined networks. Pure.
"""

from __future__ import annotations

from corral.config.container import NetworkAttachment, OciContainer
from corral.config.mounts import Mount, parse_mount
from corral.config.services import container_name, network_service, volume_service
from corral.config.top import Config

_BUILTIN_NETWORKS = ("bridge", "host", "none")


def projected(config: Config) -> Config:
    """``config`` with its ``project`` prefixed to its names (unchanged without one)."""
    project = config.project
    if not project:
        return config
    runtime = config.runtime
    networks = {n.name: f"{project}_{n.name}" for n in config.networks}
    volumes = {v.name: f"{project}_{v.name}" for v in config.volumes}
    names = {
        container_name(c, runtime): f"{project}-{container_name(c, runtime)}-1"
        for c in config.containers
    }
    services = {
        **names,
        **{network_service(runtime, o): network_service(runtime, n) for o, n in networks.items()},
        **{volume_service(runtime, o): volume_service(runtime, n) for o, n in volumes.items()},
    }
    containers = tuple(
        _container(c, runtime, names, networks, volumes, services) for c in config.containers
    )
    processes = tuple(
        p.model_copy(update={"requirement": tuple(services.get(r, r) for r in p.requirement)})
        for p in config.processes
    )
    return config.model_copy(
        update={
            "containers": containers,
            "processes": processes,
            "networks": tuple(
                n.model_copy(update={"name": networks[n.name]}) for n in config.networks
            ),
            "volumes": tuple(
                v.model_copy(update={"name": volumes[v.name]}) for v in config.volumes
            ),
        }
    )


def _container(
    container: OciContainer,
    runtime: str,
    names: dict[str, str],
    networks: dict[str, str],
    volumes: dict[str, str],
    services: dict[str, str],
) -> OciContainer:
    old = container_name(container, runtime)  # type: ignore[arg-type]
    attachments = tuple(_attachment(a, old, networks) for a in container.networks)
    update: dict[str, object] = {
        "provision": names[old],
        "networks": attachments,
        "requirement": tuple(services.get(r, r) for r in container.requirement),
        "volumes": tuple(_volume(v, volumes) for v in container.volumes),
    }
    network = container.network
    if network is not None and network.startswith("container:"):
        other = network.split(":", 1)[1]
        update["network"] = f"container:{names.get(other, other)}"
    elif network is not None and network not in _BUILTIN_NETWORKS:
        update["network"] = networks.get(network, network)
        if old not in container.network_aliases:
            update["network_aliases"] = (*container.network_aliases, old)
    return container.model_copy(update=update)


def _attachment(
    attachment: NetworkAttachment, old: str, networks: dict[str, str]
) -> NetworkAttachment:
    aliases = attachment.aliases
    if attachment.name not in _BUILTIN_NETWORKS and old not in aliases:
        aliases = (*aliases, old)
    return attachment.model_copy(
        update={"name": networks.get(attachment.name, attachment.name), "aliases": aliases}
    )


def _volume(spec: str, volumes: dict[str, str]) -> str:
    mount = parse_mount(spec)
    if mount.source is None or mount.source not in volumes:
        return spec
    return Mount(volumes[mount.source], mount.target, mount.options).text
