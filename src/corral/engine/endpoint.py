"""Where each engine is reached: the one place that decides.

Every caller that talks to an engine — the daemon's containers, events, logs,
networks and volumes, image loads and pulls, ``corral logs`` and ``image load``
at the terminal, the CLI path (through ``-H``/``--url``) and the command
lines corral prints — gets its ``Endpoint`` from ``endpoint_for``.

Docker: the ``[docker]`` table's ``host`` when corral runs dockerd itself
(dockerd's own default socket when the table names none), else
``DOCKER_HOST``, else — for a user other than root — Docker rootless's
``$XDG_RUNTIME_DIR/docker.sock`` when a socket is there, else
``/var/run/docker.sock``. Podman: the ``[podman]``
table's ``host`` when corral runs the API service itself (Podman's own default
socket when it names none), else ``CONTAINER_HOST``, else the ``podman system
service`` corral runs for itself on ``<state_dir>/podman.sock`` (started when
nothing answers there). corral speaks
the Engine API over Unix sockets only; any other address is refused, saying so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corral.config.daemons import unix_socket_path
from corral.errors import CorralError
from corral.paths import DOCKER_SOCKET, podman_socket
from corral.runtimes import RUNTIMES, Runtime

if TYPE_CHECKING:
    from corral.config import Config


class EndpointError(CorralError):
    """An engine address corral cannot use."""


@dataclass(frozen=True)
class Endpoint:
    """One engine's API socket, and how its CLI is pointed at the same engine."""

    runtime: Runtime
    #: The Unix socket its Engine API answers on.
    socket: str
    #: True when the socket is not the CLI's own default: the CLI is told (``cli``).
    explicit: bool = False
    #: Podman: corral starts ``podman system service`` on ``socket`` when nothing answers.
    own_service: bool = False
    #: the service of corral's that runs this engine (``dockerd``, ``podman``), if any
    service: str | None = None

    @property
    def cli(self) -> tuple[str, ...]:
        """Global options that send the runtime's CLI to this engine (none for the default)."""
        if not self.explicit:
            return ()
        return ("-H" if self.runtime == "docker" else "--url", f"unix://{self.socket}")

    def __str__(self) -> str:
        return f"{self.runtime} at {self.socket}"

    @property
    def awaited(self) -> str:
        """What a service waits for while this engine is away: the corral service
        that runs it (``dockerd (docker at /run/x.sock)``), else the engine."""
        return f"{self.service} ({self})" if self.service else str(self)


def socket_path(address: str, what: str) -> str:
    """The path of a ``unix://PATH`` (or bare absolute path) address; else ``EndpointError``."""
    try:
        return unix_socket_path(address)
    except ValueError as error:
        raise EndpointError(f"{what}: {error}") from None


def endpoint_for(
    config: Config | None,
    runtime: str,
    state_dir: str,
    environ: Mapping[str, str] | None = None,
) -> Endpoint:
    """The endpoint of ``runtime`` for ``config`` (None: no configuration), as
    corral in ``state_dir`` reaches it."""
    env = os.environ if environ is None else environ
    if runtime == "docker":
        docker = config.docker if config is not None else None
        if docker is not None:
            if docker.host is None:
                return Endpoint("docker", DOCKER_SOCKET, service="dockerd")
            path = socket_path(docker.host, "[docker] host")
            return Endpoint("docker", path, explicit=path != DOCKER_SOCKET, service="dockerd")
        host = env.get("DOCKER_HOST")
        if host:
            path = socket_path(host, "DOCKER_HOST")
            return Endpoint("docker", path, explicit=path != DOCKER_SOCKET)
        rootless = rootless_docker(env)
        if rootless is not None:
            return Endpoint("docker", rootless, explicit=True)
        return Endpoint("docker", DOCKER_SOCKET)
    if runtime == "podman":
        podman = config.podman if config is not None else None
        if podman is not None:
            return Endpoint("podman", podman.socket, explicit=True, service="podman")
        host = env.get("CONTAINER_HOST")
        if host:
            return Endpoint("podman", socket_path(host, "CONTAINER_HOST"), explicit=True)
        return Endpoint("podman", podman_socket(state_dir), own_service=True)
    raise EndpointError(f"unknown runtime {runtime!r}: expected {' or '.join(RUNTIMES)}")


def rootless_docker(env: Mapping[str, str]) -> str | None:
    """Docker rootless's socket (dockerd-rootless.sh under RootlessKit puts it at
    ``$XDG_RUNTIME_DIR/docker.sock``) for a user other than root, when it is there."""
    import stat

    base = env.get("XDG_RUNTIME_DIR")
    if os.geteuid() == 0 or not base:
        return None
    path = os.path.join(base, "docker.sock")
    try:
        return path if stat.S_ISSOCK(os.stat(path).st_mode) else None
    except OSError:
        return None


def at(runtime: Runtime, socket: str, *, own_service: bool = False) -> Endpoint:
    """An endpoint on an explicit socket (tests, and an engine corral was handed)."""
    return Endpoint(runtime, socket, explicit=True, own_service=own_service)
