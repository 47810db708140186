"""Where corral looks for its configuration and for Docker (light: no heavy imports)."""

from __future__ import annotations

import os

from corral.errors import ConfigError, Problem

DEFAULT_CONFIGS = ("corral.toml", "/etc/corral/corral.toml")
#: dockerd's API socket, unless configured otherwise.
DOCKER_SOCKET = "/var/run/docker.sock"


def find_config(explicit: str | None) -> str:
    """The configuration file to use: ``explicit``, else the first default that exists."""
    if explicit is not None:
        return explicit
    for candidate in DEFAULT_CONFIGS:
        if os.path.exists(candidate):
            return candidate
    raise ConfigError(
        [
            Problem(
                "no configuration found: pass -c FILE, or create ./corral.toml "
                "or /etc/corral/corral.toml"
            )
        ]
    )
