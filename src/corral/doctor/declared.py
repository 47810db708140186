"""The checks of the declared containers under a user other than root: ports
the user may not bind, and resource limits the cgroup setup cannot enforce."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from corral.doctor._host import Host
from corral.errors import Problem

if TYPE_CHECKING:
    from corral.config import Config

#: Each limit field and the cgroup controller that enforces it.
LIMIT_CONTROLLERS = {
    "memory": "memory",
    "memory_reservation": "memory",
    "memory_swap": "memory",
    "cpus": "cpu",
    "cpu_shares": "cpu",
    "cpuset": "cpuset",
    "pids_limit": "pids",
}


def unprivileged_port_start(host: Host) -> int:
    text = host.read(host.unprivileged_port_start)
    try:
        return int((text or "1024").strip())
    except ValueError:
        return 1024


def low_ports(config: Config, host: Host) -> Iterator[tuple[Problem, str, str]]:
    """(problem at the port, subject, fix) for each published host port the user may not bind."""
    from corral.config.validate import published_ports

    start = unprivileged_port_start(host)
    for i, container in enumerate(config.containers):
        for j, spec in enumerate(container.ports):
            low = [p.port for p in published_ports(spec) if p.port < start]
            if not low:
                continue
            yield (
                Problem(
                    f"{spec!r} publishes port {low[0]}, below {start}: {host.user} may not "
                    "bind it (rootless)",
                    ("containers", i, "ports", j),
                ),
                "net.ipv4.ip_unprivileged_port_start",
                f"publish a port of {start} or above, or sysctl -w "
                f"net.ipv4.ip_unprivileged_port_start={min(low)} (as root; persist it in "
                "/etc/sysctl.d/)",
            )


def cgroup_version(host: Host) -> int:
    """2 on the unified hierarchy, else 1."""
    return 2 if os.path.exists(os.path.join(host.cgroup_root, "cgroup.controllers")) else 1


def delegated_controllers(host: Host) -> set[str]:
    """The cgroup v2 controllers available in this process's own cgroup."""
    own = "/"
    for line in (host.read(host.self_cgroup) or "").splitlines():
        if line.startswith("0::"):
            own = line[3:].strip() or "/"
    path = os.path.join(host.cgroup_root, own.lstrip("/"), "cgroup.controllers")
    return set((host.read(path) or "").split())


def unenforced_limits(config: Config, host: Host) -> Iterator[tuple[Problem, str, str]]:
    """(problem at the limit, subject, fix) for each declared limit the cgroups cannot hold."""
    version = cgroup_version(host)
    controllers = delegated_controllers(host) if version == 2 else set()
    own = os.path.join(host.cgroup_root, "cgroup.controllers")
    for i, container in enumerate(config.containers):
        for name, controller in LIMIT_CONTROLLERS.items():
            if getattr(container, name) is None:
                continue
            where = ("containers", i, name)
            if version == 1:
                yield (
                    Problem(
                        f"cannot be enforced: this host runs cgroups v1, where rootless "
                        f"containers get no limits (Podman would ignore {name})",
                        where,
                    ),
                    host.cgroup_root,
                    "boot with cgroups v2 (kernel option systemd.unified_cgroup_hierarchy=1) "
                    f"and delegate the {controller} controller, or run corral as root",
                )
            elif controller not in controllers:
                yield (
                    Problem(
                        f"cannot be enforced: the {controller} controller is not delegated to "
                        f"{host.user}'s cgroup",
                        where,
                    ),
                    own,
                    "mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\n"
                    "Delegate=cpu cpuset io memory pids\\n' > "
                    "/etc/systemd/system/user@.service.d/delegate.conf && systemctl "
                    "daemon-reload (as root), then log in again",
                )
