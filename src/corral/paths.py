"""Every default place corral uses, in one module (light: no heavy imports).

The configuration (``./corral.toml``, then ``/etc/corral/corral.toml`` for
root and ``$XDG_CONFIG_HOME/corral/corral.toml`` for anyone else), the control
socket, the state directory and what lives in it (logs, the hash key, the
daemon's log), the Podman API socket corral runs (in the state directory for
root, in ``$XDG_RUNTIME_DIR/corral`` for anyone else), and the engines' own
default sockets.
"""

from __future__ import annotations

import os

from corral.errors import ConfigError, Problem

#: Where root's corral looks for its configuration, in order.
DEFAULT_CONFIGS = ("corral.toml", "/etc/corral/corral.toml")
#: dockerd's API socket when nothing says otherwise (its own default ``-H``), its
#: pid file and its data root.
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_PID = "/var/run/docker.pid"
DOCKER_ROOT = "/var/lib/docker"
#: Podman's own API socket as root (``podman system service``'s default).
PODMAN_ROOT_SOCKET = "/run/podman/podman.sock"
#: containerd's defaults.
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CONTAINERD_PID = "/run/containerd/containerd.pid"
CONTAINERD_ROOT = "/var/lib/containerd"
#: Singularity's mount directories and where activation puts its setuid helpers
#: (both under activation's root).
SINGULARITY_MNT = "/var/singularity/mnt"
SETUID_HELPERS = "/run/corral/setuid"
#: The control socket and state directory of a corral run as root.
ROOT_SOCKET = "/run/corral/corral.sock"
ROOT_STATE_DIR = "/var/lib/corral"
SOCKET_NAME = "corral.sock"

#: Names inside the state directory.
LOG_DIR = "logs"
DAEMON_LOG = "daemon.log"
HASH_KEY_FILE = "hash.key"
PODMAN_SOCKET = "podman.sock"


def config_home() -> str:
    """``$XDG_CONFIG_HOME``, else ``~/.config`` (the XDG base directory default)."""
    return os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")


def default_configs() -> tuple[str, ...]:
    """The configuration files looked for, in order: ``./corral.toml``, then
    ``/etc/corral/corral.toml`` for root, ``$XDG_CONFIG_HOME/corral/corral.toml``
    for anyone else."""
    if os.geteuid() == 0:
        return DEFAULT_CONFIGS
    return (DEFAULT_CONFIGS[0], os.path.join(config_home(), "corral", "corral.toml"))


def find_config(explicit: str | None) -> str:
    """The configuration file to use: ``explicit``, else the first default that exists."""
    if explicit is not None:
        return explicit
    candidates = default_configs()
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    raise ConfigError(
        [
            Problem(
                f"no configuration found: pass -c FILE, or create ./{candidates[0]} "
                f"or {candidates[1]}"
            )
        ]
    )


def podman_default_socket() -> str:
    """Podman's own default API socket (``podman system service`` without an address)."""
    if os.geteuid() == 0:
        return PODMAN_ROOT_SOCKET
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return os.path.join(runtime, "podman", "podman.sock")


def default_socket() -> str:
    """Root's ``/run/corral/corral.sock``; for anyone else
    ``$XDG_RUNTIME_DIR/corral/corral.sock``, refused (``privacy.NotPrivate``)
    when that directory is unset or not the user's own."""
    if os.geteuid() == 0:
        return ROOT_SOCKET
    from corral.privacy import runtime_dir

    return os.path.join(runtime_dir(), SOCKET_NAME)


def state_dir(configured: str | None = None) -> str:
    """``CORRAL_STATE_DIR``, else the configured one, else the per-user default
    (always absolute: it also names this corral instance on its containers)."""
    override = os.environ.get("CORRAL_STATE_DIR")
    if override:
        return os.path.abspath(override)
    if configured:
        return os.path.abspath(configured)
    return _default_state_dir()


def _default_state_dir() -> str:
    if os.geteuid() == 0:
        return ROOT_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.abspath(os.path.join(base, "corral"))


def default_log_path(state: str, name: str) -> str:
    """Where service ``name`` logs unless its declaration says otherwise."""
    return os.path.join(state, LOG_DIR, f"{name}.log")


def build_log_path(state: str, name: str) -> str:
    """Where the Dockerfile builds of container service ``name``'s image log."""
    return os.path.join(state, LOG_DIR, f"{name}.build.log")


def daemon_log(state: str) -> str:
    return os.path.join(state, DAEMON_LOG)


def hash_key_path(state: str) -> str:
    return os.path.join(state, HASH_KEY_FILE)


def podman_socket(state: str) -> str:
    """The socket of the ``podman system service`` corral runs for itself: in the
    state directory for root; for anyone else (rootless Podman) in
    ``$XDG_RUNTIME_DIR/corral`` — ``podman.sock`` for the default state
    directory, ``podman-HASH.sock`` (a hash of the state directory) for another
    one, so two corrals of one user each run their own."""
    if os.geteuid() == 0:
        return os.path.join(state, PODMAN_SOCKET)
    from corral.privacy import runtime_dir

    if os.path.abspath(state) == _default_state_dir():
        return os.path.join(runtime_dir(), PODMAN_SOCKET)
    import hashlib

    digest = hashlib.sha256(os.path.abspath(state).encode()).hexdigest()[:12]
    return os.path.join(runtime_dir(), f"podman-{digest}.sock")
