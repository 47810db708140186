"""The configuration layer: records, sanitizers, loaders, located errors."""

from corral.actions import BUILTIN_ACTIONS
from corral.config.container import Action, OciContainer, RespawnLimit
from corral.config.daemons import Containerd, DockerDaemon, PodmanService, Singularity
from corral.config.image import OciImage
from corral.config.loader import Loaded, find_config, load, load_text
from corral.config.network import Network, Volume
from corral.config.process import Process
from corral.config.services import Declared, declared_services, dependency_order
from corral.config.top import Config

__all__ = [
    "BUILTIN_ACTIONS",
    "Action",
    "Config",
    "Containerd",
    "Declared",
    "DockerDaemon",
    "Loaded",
    "Network",
    "OciContainer",
    "OciImage",
    "PodmanService",
    "Process",
    "RespawnLimit",
    "Singularity",
    "Volume",
    "declared_services",
    "dependency_order",
    "find_config",
    "load",
    "load_text",
]
