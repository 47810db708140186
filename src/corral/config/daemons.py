"""The engine daemons corral can run itself: ``DockerDaemon`` (dockerd),
``Containerd``, ``PodmanService`` (Podman's API service), and the
``Singularity`` activation."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

from pydantic import AfterValidator, StrictBool, StrictStr

from corral.config._base import Record
from corral.config._fields import Environment, NonEmpty, fail, field, show
from corral.paths import CONTAINERD_PID, CONTAINERD_SOCKET, DOCKER_PID, podman_default_socket


def unix_socket_path(address: str) -> str:
    """The path of a ``unix:///PATH`` (or bare absolute path) address; ``ValueError``
    for any other: corral reaches engines over Unix sockets only."""
    path = address.removeprefix("unix://") if address.startswith("unix://") else address
    if not path.startswith("/"):
        raise ValueError(
            f"{show(address)} is not a Unix socket address like unix:///run/corral/docker.sock: "
            "corral reaches engines over Unix sockets only"
        )
    return path


def _unix_address(value: str) -> str:
    try:
        unix_socket_path(value)
    except ValueError as error:
        raise fail(f"host: {error}") from None
    return value


UnixAddress = Annotated[StrictStr, AfterValidator(_unix_address)]


def _on_path(program: str) -> str:
    """A bare program name as the absolute path ``PATH`` finds (dockerd execs its
    ``--userland-proxy-path`` as given, without a search); unchanged when not found."""
    if "/" in program:
        return program
    found = shutil.which(program)
    return os.path.abspath(found) if found else program


#: A program dockerd runs by path: looked up on ``PATH`` when the file is loaded.
Program = Annotated[NonEmpty, AfterValidator(_on_path)]


class Containerd(Record):
    """containerd as a supervised service, named `containerd`; ready when its socket answers."""

    toml_name = "[containerd]"

    containerd: NonEmpty = field("containerd", doc="The containerd program.")
    debug: StrictBool = field(False, doc="Log at debug level.")
    environment_variables: Environment = field(
        (), doc="Environment of containerd (`K=V` strings or pairs)."
    )
    address: StrictStr = field(CONTAINERD_SOCKET, doc="The socket containerd serves its API on.")
    root: StrictStr | None = field(None, doc="Persistent state directory (`--root`).")
    state: StrictStr | None = field(None, doc="Runtime state directory (`--state`).")
    pid_file: StrictStr = field(CONTAINERD_PID, doc="containerd's pid file.")
    log_file: StrictStr | None = field(
        None, doc="containerd's log; default: `<state_dir>/logs/containerd.log`."
    )


class DockerDaemon(Record):
    """dockerd as a supervised service, named `dockerd`; it requires `containerd`
    when a `[containerd]` table is declared. Containers require `dockerd`."""

    toml_name = "[docker]"

    dockerd: NonEmpty = field("dockerd", doc="The dockerd program.")
    proxy: Program = field(
        "docker-proxy",
        doc="The userland proxy program (`--userland-proxy-path`); a bare name is looked up "
        "on `PATH`, since dockerd runs it by path.",
        validate_default=True,
    )
    enable_proxy: StrictBool = field(True, doc="Use the userland proxy for published ports.")
    debug: StrictBool = field(False, doc="Log at debug level.")
    enable_iptables: StrictBool = field(True, doc="Let dockerd add iptables rules.")
    environment_variables: Environment = field(
        (), doc="Environment of dockerd (`K=V` strings or pairs)."
    )
    config_file: StrictStr | None = field(None, doc="JSON configuration file (`--config-file`).")
    data_root: StrictStr | None = field(None, doc="Root of persisted state (`--data-root`).")
    exec_root: StrictStr | None = field(None, doc="Root of execution state (`--exec-root`).")
    host: UnixAddress | None = field(
        None,
        doc="The socket dockerd listens on, like `unix:///run/corral/docker.sock`; every "
        "call corral makes to docker goes there. Default: dockerd's own, `/var/run/docker.sock`.",
    )
    pid_file: StrictStr = field(DOCKER_PID, doc="dockerd's pid file (`-p`).")
    containerd_socket: StrictStr | None = field(
        None,
        doc="containerd's socket (`--containerd`); default: the `[containerd]` table's "
        "address when declared, else dockerd manages its own.",
    )
    log_file: StrictStr | None = field(
        None, doc="dockerd's log; default: `<state_dir>/logs/dockerd.log`."
    )


class PodmanService(Record):
    """Podman's API service, `podman system service --time=0 unix://PATH`, as a
    supervised service named `podman`; ready when the API answers `_ping`. Containers
    of `runtime = "podman"` require it. Without this table corral starts a service of
    its own on `<state_dir>/podman.sock` when nothing answers there."""

    toml_name = "[podman]"

    podman: NonEmpty = field("podman", doc="The podman program.")
    debug: StrictBool = field(False, doc="Log at debug level (`--log-level=debug`).")
    environment_variables: Environment = field(
        (), doc="Environment of the service (`K=V` strings or pairs)."
    )
    host: UnixAddress | None = field(
        None,
        doc="The socket the service listens on, like `unix:///run/corral/podman.sock`; every "
        "call corral makes to podman goes there. Default: Podman's own, "
        "`/run/podman/podman.sock` (as root).",
    )
    log_file: StrictStr | None = field(
        None, doc="The service's log; default: `<state_dir>/logs/podman.log`."
    )

    @property
    def socket(self) -> str:
        """The path of the socket the service listens on."""
        return unix_socket_path(self.host) if self.host else podman_default_socket()


class Singularity(Record):
    """Singularity's activation: `<root>/var/singularity/mnt/{container,final,overlay,session}`
    made 0755, and setuid-root copies of the package's helpers (`corral activate`;
    `--root DIR` activates under another root)."""

    toml_name = "[singularity]"

    package: NonEmpty = field("/usr", doc="The prefix Singularity is installed under.")
