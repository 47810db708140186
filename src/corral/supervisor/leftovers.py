"""What an engine instance corral ran leaves behind once it has stopped.

dockerd bind-mounts its data root onto itself (and mounts under its exec root);
containerd leaves its shims when a container outlived it; a killed dockerd
leaves ``docker-proxy`` processes. ``corral down`` removes every container
first, then stops dockerd, then containerd, then calls ``sweep`` with the
instance's directories: each process of the instance's helper programs whose
command line names one of them is killed, and each mount at or under one is
detached, deepest first. Nothing outside those directories is touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass

from corral.config import Config
from corral.engine.endpoint import endpoint_for
from corral.paths import CONTAINERD_ROOT, CONTAINERD_SOCKET, DOCKER_ROOT

#: The programs an engine instance runs beside itself.
HELPERS = frozenset(
    {"containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "docker-proxy"}
    | {"runc", "containerd"}
)
_MNT_DETACH = 2


@dataclass(frozen=True)
class Swept:
    killed: tuple[str, ...] = ()
    unmounted: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"killed {p}" for p in self.killed] + [f"unmounted {m}" for m in self.unmounted]
        return "; ".join(parts) or "nothing left"


def instance_paths(config: Config, state_dir: str) -> tuple[str, ...]:
    """The directories and sockets of the engine instance ``config`` runs (none
    when it runs no engine daemon)."""
    paths: list[str] = []
    docker = config.docker
    if docker is not None:
        paths += [docker.data_root or DOCKER_ROOT]
        if docker.exec_root:
            paths.append(docker.exec_root)
        paths.append(endpoint_for(config, "docker", state_dir).socket)
    containerd = config.containerd
    if containerd is not None:
        paths += [containerd.root or CONTAINERD_ROOT, containerd.address]
        if containerd.state:
            paths.append(containerd.state)
        if containerd.address == CONTAINERD_SOCKET:
            paths.append(os.path.dirname(CONTAINERD_SOCKET))
    return tuple(dict.fromkeys(os.path.abspath(p) for p in paths))


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def helper_processes(roots: tuple[str, ...]) -> list[tuple[int, str]]:
    """(pid, program) of each helper process whose arguments name a path under ``roots``."""
    found: list[tuple[int, str]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as stream:
                argv = [a.decode(errors="replace") for a in stream.read().split(b"\0") if a]
        except OSError:
            continue
        if not argv or os.path.basename(argv[0]) not in HELPERS:
            continue
        words = [w.split("=", 1)[-1].removeprefix("unix://") for w in argv[1:]]
        if any(_under(w, roots) for w in words if w.startswith(("/", "unix://"))):
            found.append((int(entry), os.path.basename(argv[0])))
    return found


def _unescape(field: str) -> str:
    """A mountinfo path: spaces and the like are octal escapes (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(roots: tuple[str, ...]) -> list[str]:
    """Mount points at or under ``roots``, deepest first."""
    points: list[str] = []
    with open("/proc/self/mountinfo") as stream:
        for line in stream:
            fields = line.split()
            if len(fields) > 4:
                point = _unescape(fields[4])
                if _under(point, roots):
                    points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def _detach(point: str) -> bool:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return bool(libc.umount2(point.encode(), _MNT_DETACH) == 0)


def sweep(roots: tuple[str, ...]) -> Swept:
    """Kill the instance's helper processes and detach its mounts."""
    killed: list[str] = []
    for pid, program in helper_processes(roots):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(f"{program} (pid {pid})")
    unmounted = [point for point in mounts_under(roots) if _detach(point)]
    return Swept(tuple(killed), tuple(unmounted))
