"""The services a configuration declares: their names, kinds and requirements.

Naming follows the seed, fixed: a container is called by its ``provision``,
else ``<runtime>-<image basename>`` with registry, tag and digest stripped
(``registry:5000/team/app:1.2`` → ``docker-app``; the seed split at the first
colon and gave ``docker-registry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from corral.config._base import Record
from corral.config.container import OciContainer
from corral.config.image import OciImage
from corral.config.top import Config
from corral.errors import Path
from corral.runtimes import Runtime

Kind = Literal["container", "process", "network", "volume", "dockerd", "containerd", "podman"]
#: The engine daemons corral can run, by service name (each its own kind).
DAEMON_KINDS: tuple[Kind, ...] = ("containerd", "dockerd", "podman")


def image_reference(image: str | OciImage) -> str:
    """The reference the engine knows an image by."""
    return image if isinstance(image, str) else image.reference


def image_basename(reference: str) -> str:
    """``registry:5000/team/app:1.2@sha256:…`` → ``app``."""
    without_digest = reference.split("@", 1)[0]
    last = without_digest.rstrip("/").rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def container_name(container: OciContainer, runtime: Runtime) -> str:
    if container.provision is not None:
        return container.provision
    image = container.image
    repository = image if isinstance(image, str) else image.repository
    return f"{runtime}-{image_basename(repository)}"


def network_service(runtime: Runtime, name: str) -> str:
    return f"{runtime}-network-{name}"


def volume_service(runtime: Runtime, name: str) -> str:
    return f"{runtime}-volume-{name}"


@dataclass(frozen=True)
class Declared:
    """One service as declared: its name, kind, record, where it was declared,
    and its requirements, the implicit ones included."""

    name: str
    kind: Kind
    record: Record
    path: Path
    requirement: tuple[str, ...]
    declared_requirement: tuple[str, ...]
    auto_start: bool
    respawn: bool
    one_shot: bool
    #: when respawn applies: after any exit, or only after a failed (non-zero) one
    respawn_on: Literal["exit", "failure"] = "exit"


def declared_services(config: Config) -> list[Declared]:
    """Every service of ``config``, in declaration order (daemons first)."""
    runtime = config.runtime
    out: list[Declared] = []
    if config.containerd is not None:
        out.append(_daemon("containerd", config.containerd, ("containerd",), ()))
    if config.docker is not None:
        needs = ("containerd",) if config.containerd is not None else ()
        out.append(_daemon("dockerd", config.docker, ("docker",), needs))
    if config.podman is not None:
        out.append(_daemon("podman", config.podman, ("podman",), ()))
    engine = _engine_service(config)
    networks = {n.name: network_service(runtime, n.name) for n in config.networks}
    volumes = {v.name: volume_service(runtime, v.name) for v in config.volumes}
    for i, network in enumerate(config.networks):
        out.append(_one_shot(networks[network.name], "network", network, ("networks", i), engine))
    for i, volume in enumerate(config.volumes):
        out.append(_one_shot(volumes[volume.name], "volume", volume, ("volumes", i), engine))
    for i, process in enumerate(config.processes):
        out.append(
            Declared(
                name=process.name,
                kind="process",
                record=process,
                path=("processes", i),
                requirement=process.requirement,
                declared_requirement=process.requirement,
                auto_start=process.auto_start,
                respawn=process.respawn,
                one_shot=process.one_shot,
            )
        )
    for i, container in enumerate(config.containers):
        implicit: list[str] = list(engine)
        for joined in (container.network, *(n.name for n in container.networks)):
            if joined in networks:
                implicit.append(networks[joined])
        for spec in container.volumes:
            source = spec.split(":", 1)[0]
            if source in volumes:
                implicit.append(volumes[source])
        out.append(
            Declared(
                name=container_name(container, runtime),
                kind="container",
                record=container,
                path=("containers", i),
                requirement=tuple(dict.fromkeys([*implicit, *container.requirement])),
                declared_requirement=container.requirement,
                auto_start=container.auto_start,
                respawn=container.respawn,
                one_shot=container.one_shot,
                respawn_on=container.respawn_on,
            )
        )
    return out


def _engine_service(config: Config) -> tuple[str, ...]:
    """The engine service every container, network and volume requires, if corral runs it."""
    if config.runtime == "docker" and config.docker is not None:
        return ("dockerd",)
    if config.runtime == "podman" and config.podman is not None:
        return ("podman",)
    return ()


def _daemon(name: Kind, record: Record, path: Path, requirement: tuple[str, ...]) -> Declared:
    return Declared(
        name=name,
        kind=name,
        record=record,
        path=path,
        requirement=requirement,
        declared_requirement=(),
        auto_start=True,
        respawn=True,
        one_shot=False,
    )


def _one_shot(
    name: str, kind: Kind, record: Record, path: Path, requirement: tuple[str, ...]
) -> Declared:
    return Declared(
        name=name,
        kind=kind,
        record=record,
        path=path,
        requirement=requirement,
        declared_requirement=(),
        auto_start=True,
        respawn=False,
        one_shot=True,
    )


def dependency_order(services: list[Declared]) -> list[Declared]:
    """Services with each one after its requirements; declaration order otherwise.

    Assumes a validated configuration (no cycle, no unknown requirement)."""
    by_name = {s.name: s for s in services}
    done: dict[str, Declared] = {}

    def visit(service: Declared) -> None:
        if service.name in done:
            return
        for name in service.requirement:
            if name in by_name:
                visit(by_name[name])
        done[service.name] = service

    for service in services:
        visit(service)
    return list(done.values())
