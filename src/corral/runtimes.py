"""The engines corral drives, named once (no heavy imports)."""

from __future__ import annotations

from typing import Literal, get_args

#: An engine: its CLI's name, and the prefix of its containers' default service names.
Runtime = Literal["docker", "podman"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
