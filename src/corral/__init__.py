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
        PodmanService,
        Process,
        RespawnLimit,
        Singularity,
        Volume,
    )
    from corral.errors import CommandError, ConfigError, CorralError, ImageError, Problem

    __version__: str

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
    "PodmanService",
    "Problem",
    "Process",
    "RespawnLimit",
    "Singularity",
    "Volume",
]
_ERRORS = {"CommandError", "ConfigError", "CorralError", "ImageError", "Problem"}


def __getattr__(name: str) -> Any:
    """The records are imported on first use: the CLI's light commands never load them.
    ``__version__`` is the installed distribution's (pyproject's ``version``, its one
    source), read on first use too: ``importlib.metadata`` costs some ten times the
    rest of ``import corral``."""
    if name == "__version__":
        from importlib.metadata import version

        globals()["__version__"] = found = version("corral")
        return found
    if name in __all__:
        module = importlib.import_module("corral.errors" if name in _ERRORS else "corral.config")
        return getattr(module, name)
    raise AttributeError(f"module 'corral' has no attribute {name!r}")
