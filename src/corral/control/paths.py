"""Default places: the control socket and the state directory (no heavy imports)."""

from __future__ import annotations

import os

SOCKET_NAME = "corral.sock"


def default_socket() -> str:
    if os.geteuid() == 0:
        return "/run/corral/corral.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/corral-{os.geteuid()}"
    return os.path.join(runtime, "corral", SOCKET_NAME)


def state_dir(configured: str | None = None) -> str:
    """``CORRAL_STATE_DIR``, else the configured one, else the per-user default
    (always absolute: it also names this corral instance on its containers)."""
    override = os.environ.get("CORRAL_STATE_DIR")
    if override:
        return os.path.abspath(override)
    if configured:
        return os.path.abspath(configured)
    if os.geteuid() == 0:
        return "/var/lib/corral"
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "corral")
