"""What ``corral show`` prints: each declared service as plain data."""

from __future__ import annotations

from typing import Any

from corral.config import (
    Config,
    Containerd,
    Declared,
    DockerDaemon,
    Network,
    OciContainer,
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
    process_command,
    run_command,
    volume_create_command,
)


def service_argv(config: Config, service: Declared) -> list[str]:
    """The command line that starts ``service``."""
    record = service.record
    if isinstance(record, OciContainer):
        return run_command(record, service.name, config.runtime)
    if isinstance(record, Process):
        return process_command(record)
    if isinstance(record, DockerDaemon):
        return dockerd_command(record, config.containerd)
    if isinstance(record, Containerd):
        return containerd_command(record)
    if isinstance(record, Network):
        return network_create_command(record, config.runtime)
    if isinstance(record, Volume):
        return volume_create_command(record, config.runtime)
    raise TypeError(f"no command line for {type(record).__name__}")


def service_view(config: Config, service: Declared) -> dict[str, Any]:
    """The ``show --json`` object of one service. Secrets are not part of it."""
    record = service.record
    image = image_reference(record.image) if isinstance(record, OciContainer) else None
    return {
        "name": service.name,
        "kind": service.kind,
        "image": image,
        "requirement": list(service.requirement),
        "auto_start": service.auto_start,
        "respawn": service.respawn,
        "argv": service_argv(config, service),
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


def show_services(config: Config) -> list[dict[str, Any]]:
    """Every service's view, in dependency order."""
    return [service_view(config, s) for s in dependency_order(declared_services(config))]
