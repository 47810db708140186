"""``Config``: the whole file."""

from __future__ import annotations

from pydantic import StrictStr

from corral.config._base import Record
from corral.config._fields import field
from corral.config.container import OciContainer
from corral.config.daemons import Containerd, DockerDaemon, Singularity
from corral.config.http import Http
from corral.config.network import Network, Volume
from corral.config.process import Process
from corral.runtimes import Runtime


class Config(Record):
    """Everything one corral file declares. In TOML the lists are spelled
    `[[container]]`, `[[process]]`, `[[network]]` and `[[volume]]`; in Python,
    `containers=`, `processes=`, `networks=` and `volumes=`."""

    toml_name = "top level"

    runtime: Runtime = field("docker", doc='The engine: "docker" or "podman".')
    state_dir: StrictStr | None = field(
        None,
        doc="Where corral keeps logs and state; default `/var/lib/corral` as root, else "
        "`$XDG_STATE_HOME/corral`.",
    )
    docker: DockerDaemon | None = field(None, doc="Run dockerd as a service (`[docker]`).")
    containerd: Containerd | None = field(None, doc="Run containerd as a service (`[containerd]`).")
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
