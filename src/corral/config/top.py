"""``Config``: the whole file."""

from __future__ import annotations

from pydantic import StrictStr

from corral.config._base import Record
from corral.config._fields import Name, Seconds, field
from corral.config.container import OciContainer
from corral.config.daemons import Containerd, DockerDaemon, PodmanService, Singularity
from corral.config.http import Http
from corral.config.network import Network, Volume
from corral.config.process import Process
from corral.config.registry import PullPolicy, Registry
from corral.runtimes import Runtime


class Config(Record):
    """Everything one corral file declares. In TOML the lists are spelled
    `[[container]]`, `[[process]]`, `[[network]]`, `[[volume]]` and `[[registry]]`; in
    Python, `containers=`, `processes=`, `networks=`, `volumes=` and `registries=`."""

    toml_name = "top level"

    runtime: Runtime = field("docker", doc='The engine: "docker" or "podman".')
    state_dir: StrictStr | None = field(
        None,
        doc="Where corral keeps logs and state; default `/var/lib/corral` as root, else "
        "`$XDG_STATE_HOME/corral`.",
    )
    docker: DockerDaemon | None = field(None, doc="Run dockerd as a service (`[docker]`).")
    containerd: Containerd | None = field(None, doc="Run containerd as a service (`[containerd]`).")
    podman: PodmanService | None = field(
        None, doc="Run Podman's API service as a service (`[podman]`)."
    )
    singularity: Singularity | None = field(None, doc="Singularity activation (`[singularity]`).")
    http: Http | None = field(
        None, doc="The daemon's live status page and Prometheus metrics (`[http]`)."
    )
    containers: tuple[OciContainer, ...] = field(
        (), alias="container", doc="Containers (`[[container]]`)."
    )
    processes: tuple[Process, ...] = field((), alias="process", doc="Processes (`[[process]]`).")
    networks: tuple[Network, ...] = field((), alias="network", doc="Networks (`[[network]]`).")
    volumes: tuple[Volume, ...] = field((), alias="volume", doc="Volumes (`[[volume]]`).")
    registries: tuple[Registry, ...] = field(
        (), alias="registry", doc="Registry logins (`[[registry]]`).", change="in_place"
    )
    pull: PullPolicy = field(
        "missing",
        doc="When a container's start pulls its image, for containers that do not say: "
        '"missing", "always", "never" or "newer" (see the container\'s `pull`).',
        change="in_place",
    )
    project: Name | None = field(
        None,
        doc="A project name that prefixes names as Compose v2 does: containers "
        "`PROJECT-NAME-1` (the unprefixed name stays a DNS alias on their networks), "
        "networks and volumes `PROJECT_NAME`. `corral --project NAME` sets it too. "
        "Default: no prefix.",
    )
    update_settle: Seconds = field(
        10.0,
        doc="Seconds `corral update` watches a recreated container without a health check "
        "keep running before the update holds.",
        change="in_place",
    )
