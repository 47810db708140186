"""corral: containers and processes as supervised host services.

The records below are what a Python configuration (``corral.py``) builds::

    from corral import Config, OciContainer
    config = Config(containers=[OciContainer(image="localhost/web:1")])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_ERRORS = {"CommandError", "ConfigError", "CorralError", "ImageError", "Problem"}


def __getattr__(name: str) -> Any:
    """The records are imported on first use: the CLI's light commands never load them."""
    if name in __all__:
        module = importlib.import_module("corral.errors" if name in _ERRORS else "corral.config")
        return getattr(module, name)
    raise AttributeError(f"module 'corral' has no attribute {name!r}")
