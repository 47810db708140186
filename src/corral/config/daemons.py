"""The engine daemons corral can run itself: ``DockerDaemon`` (dockerd),
``Containerd``, and the ``Singularity`` activation."""

from __future__ import annotations

from pydantic import StrictBool, StrictStr

from corral.config._base import Record
from corral.config._fields import Environment, NonEmpty, field


class Containerd(Record):
    """containerd as a supervised service, named `containerd`; ready when its socket answers."""

    toml_name = "[containerd]"

    containerd: NonEmpty = field("containerd", doc="The containerd program.")
    debug: StrictBool = field(False, doc="Log at debug level.")
    environment_variables: Environment = field(
        (), doc="Environment of containerd (`K=V` strings or pairs)."
    )
    address: StrictStr = field(
        "/run/containerd/containerd.sock", doc="The socket containerd serves its API on."
    )
    root: StrictStr | None = field(None, doc="Persistent state directory (`--root`).")
    state: StrictStr | None = field(None, doc="Runtime state directory (`--state`).")
    pid_file: StrictStr = field("/run/containerd/containerd.pid", doc="containerd's pid file.")
    log_file: StrictStr | None = field(
        None, doc="containerd's log; default: `<state_dir>/logs/containerd.log`."
    )


class DockerDaemon(Record):
    """dockerd as a supervised service, named `dockerd`; it requires `containerd`
    when a `[containerd]` table is declared. Containers require `dockerd`."""

    toml_name = "[docker]"

    dockerd: NonEmpty = field("dockerd", doc="The dockerd program.")
    docker_cli: NonEmpty = field("docker", doc="The docker CLI corral uses for this engine.")
    proxy: NonEmpty = field("docker-proxy", doc="The userland proxy program.")
    enable_proxy: StrictBool = field(True, doc="Use the userland proxy for published ports.")
    debug: StrictBool = field(False, doc="Log at debug level.")
    enable_iptables: StrictBool = field(True, doc="Let dockerd add iptables rules.")
    environment_variables: Environment = field(
        (), doc="Environment of dockerd (`K=V` strings or pairs)."
    )
    config_file: StrictStr | None = field(None, doc="JSON configuration file (`--config-file`).")
    data_root: StrictStr | None = field(None, doc="Root of persisted state (`--data-root`).")
    exec_root: StrictStr | None = field(None, doc="Root of execution state (`--exec-root`).")
    host: StrictStr | None = field(
        None, doc="The socket dockerd listens on, like `unix:///run/corral/docker.sock`."
    )
    pid_file: StrictStr = field("/var/run/docker.pid", doc="dockerd's pid file (`-p`).")
    containerd_socket: StrictStr | None = field(
        None,
        doc="containerd's socket (`--containerd`); default: the `[containerd]` table's "
        "address when declared, else dockerd manages its own.",
    )
    log_file: StrictStr | None = field(
        None, doc="dockerd's log; default: `<state_dir>/logs/dockerd.log`."
    )


class Singularity(Record):
    """Singularity's activation: `<root>/var/singularity/mnt/{container,final,overlay,session}`
    made 0755, and setuid helpers linked from the package."""

    toml_name = "[singularity]"

    package: NonEmpty = field("/usr", doc="The prefix Singularity is installed under.")
    root: NonEmpty = field("/", doc="The root activation works under (for tests).")
