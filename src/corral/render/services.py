"""What ``corral show`` prints: each declared service as plain data. Pure.

A service has two command lines: ``argv``, what corral runs (for a container,
its ``create`` with corral's labels — the CLI path's exact words, and the
equivalent line of the API call), and ``seed_argv``, the seed's (``run --rm``
in the foreground for a container; the same as ``argv`` for the rest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from corral.config import (
    Config,
    Containerd,
    Declared,
    DockerDaemon,
    Network,
    OciContainer,
    PodmanService,
    Process,
    Volume,
    declared_services,
    dependency_order,
)
from corral.config.services import image_reference
from corral.render.commands import (
    containerd_command,
    dockerd_command,
    network_create_command,
    podman_service_command,
    process_command,
    volume_create_command,
)
from corral.render.container import connect_argvs, create_argv, seed_argv
from corral.render.spec import container_spec

#: Service name → corral's labels on its container (exact hash included).
Labels = Mapping[str, Mapping[str, str]]


def service_argv(
    config: Config,
    service: Declared,
    labels: Mapping[str, str] | None = None,
    engine_options: Sequence[str] = (),
) -> list[str]:
    """The command line that starts ``service`` as corral runs it; for a container,
    ``create`` with corral's ``labels`` and the CLI options that reach its engine."""
    record = service.record
    if isinstance(record, OciContainer):
        spec = container_spec(record, service.name, config.runtime, labels or {})
        return create_argv(spec, engine_options)
    if isinstance(record, Network):
        return network_create_command(record, config.runtime, engine_options)
    if isinstance(record, Volume):
        return volume_create_command(record, config.runtime, engine_options)
    return seed_service_argv(config, service)


def service_connects(
    config: Config, service: Declared, engine_options: Sequence[str] = ()
) -> list[list[str]]:
    """For a container on several networks, the ``network connect`` lines corral's
    API calls amount to, after the create and before the start; else []."""
    record = service.record
    if not isinstance(record, OciContainer):
        return []
    return connect_argvs(container_spec(record, service.name, config.runtime), engine_options)


def seed_service_argv(config: Config, service: Declared) -> list[str]:
    """The command line the seed would run for ``service``."""
    record = service.record
    if isinstance(record, OciContainer):
        return seed_argv(container_spec(record, service.name, config.runtime))
    if isinstance(record, Process):
        return process_command(record)
    if isinstance(record, DockerDaemon):
        return dockerd_command(record, config.containerd)
    if isinstance(record, Containerd):
        return containerd_command(record)
    if isinstance(record, PodmanService):
        return podman_service_command(record)
    if isinstance(record, Network):
        return network_create_command(record, config.runtime)
    if isinstance(record, Volume):
        return volume_create_command(record, config.runtime)
    raise TypeError(f"no command line for {type(record).__name__}")


def service_view(
    config: Config,
    service: Declared,
    labels: Labels | None = None,
    engine_options: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``show --json`` object of one service. Secrets are not part of it."""
    record = service.record
    image = image_reference(record.image) if isinstance(record, OciContainer) else None
    own = (labels or {}).get(service.name)
    return {
        "name": service.name,
        "kind": service.kind,
        "image": image,
        "requirement": list(service.requirement),
        "auto_start": service.auto_start,
        "respawn": service.respawn,
        "argv": service_argv(config, service, own, engine_options),
        "connect_argv": service_connects(config, service, engine_options),
        "seed_argv": seed_service_argv(config, service),
    }


def service_details(service: Declared) -> dict[str, Any]:
    """What ``corral show`` adds for a person: actions, and the names (never the
    values) of host_environment variables."""
    record = service.record
    actions = getattr(record, "actions", ())
    hidden = getattr(record, "host_environment", ())
    return {
        "actions": [{"name": a.name, "documentation": a.documentation} for a in actions],
        "host_environment": [entry.split("=", 1)[0] for entry in hidden],
    }


def show_services(
    config: Config, labels: Labels | None = None, engine_options: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every service's view, in dependency order."""
    return [
        service_view(config, s, labels, engine_options)
        for s in dependency_order(declared_services(config))
    ]
