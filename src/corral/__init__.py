"""corral: containers and processes as supervised host services.

The records below are what a Python configuration (``corral.py``) builds::

    from corral import Config, OciContainer
    config = Config(containers=[OciContainer(image="localhost/web:1")])
"""

from corral.config import (
    Action,
    Config,
    Containerd,
    DockerDaemon,
    Network,
    OciContainer,
    OciImage,
    Process,
    RespawnLimit,
    Singularity,
    Volume,
)
from corral.errors import CommandError, ConfigError, CorralError, ImageError, Problem

__all__ = [
    "Action",
    "CommandError",
    "Config",
    "ConfigError",
    "Containerd",
    "CorralError",
    "DockerDaemon",
    "ImageError",
    "Network",
    "OciContainer",
    "OciImage",
    "Problem",
    "Process",
    "RespawnLimit",
    "Singularity",
    "Volume",
]
__version__ = "0.1.0"
