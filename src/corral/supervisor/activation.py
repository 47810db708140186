"""Activation: what the host needs before the first service starts.

As the seed's activation snippets and account services do: the accounts the
engine CLI runs as (``oci-container`` in group ``docker`` by default, system
accounts, home ``/var/empty``, shell nologin), the engines' state directories
(``/var/lib/docker``, ``/var/lib/containerd``), and Singularity's mount
directories (0755) and setuid helpers. ``plan`` only looks; ``apply`` acts;
``corral activate --dry-run`` prints the plan.

``root`` (``corral activate --root DIR``) puts every directory and helper under
another root, for an image being prepared or a test; accounts are always the
running host's. Idempotent: what is in place already is not planned again, so a
second run has nothing to do.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from typing import Literal

from corral.config import Config
from corral.errors import CorralError
from corral.paths import CONTAINERD_ROOT, DOCKER_ROOT, SETUID_HELPERS, SINGULARITY_MNT

SINGULARITY_MOUNTS = ("container", "final", "overlay", "session")
SINGULARITY_HELPERS = ("action", "mount", "start")


@dataclass(frozen=True)
class Step:
    kind: Literal["account", "directory", "setuid"]
    what: str
    #: account: the argv; directory: (path, mode); setuid: (source, target)
    argv: tuple[str, ...] = ()
    path: str = ""
    mode: int = 0o755
    source: str = ""

    def __str__(self) -> str:
        return self.what


def _under(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _directory(path: str, mode: int = 0o755, *, enforce: bool = True) -> Step | None:
    """Make ``path`` with ``mode``; with ``enforce``, also give an existing one that mode
    (an engine's root is only made: the engine sets its own mode on it)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return Step("directory", f"mkdir -m {mode:o} {path}", path=path, mode=mode)
    if enforce and stat.S_IMODE(current.st_mode) != mode:
        return Step("directory", f"chmod {mode:o} {path}", path=path, mode=mode)
    return None


def plan(config: Config, root: str = "/") -> list[Step]:
    """What activation would do on this host for ``config`` under ``root``
    (nothing already done)."""
    from corral.engine.accounts import plan_host_accounts

    steps: list[Step] = [
        Step("account", str(action), argv=action.argv)
        for action in plan_host_accounts((c.user, c.group) for c in config.containers)
    ]
    directories: list[tuple[str, int, bool]] = []
    if config.containerd is not None:
        directories.append((config.containerd.root or CONTAINERD_ROOT, 0o711, False))
    if config.docker is not None:
        directories.append((config.docker.data_root or DOCKER_ROOT, 0o710, False))
    singularity = config.singularity
    if singularity is not None:
        directories.append((SINGULARITY_MNT, 0o755, True))
        directories += [(f"{SINGULARITY_MNT}/{n}", 0o755, True) for n in SINGULARITY_MOUNTS]
    for path, mode, enforce in directories:
        step = _directory(_under(root, path), mode, enforce=enforce)
        if step is not None:
            steps.append(step)
    if singularity is not None:
        steps += _setuid_helpers(singularity.package, root)
    return steps


def _setuid_helpers(package: str, root: str) -> list[Step]:
    steps: list[Step] = []
    target_dir = _under(root, SETUID_HELPERS)
    for helper in SINGULARITY_HELPERS:
        source = os.path.join(package, "libexec", "singularity", "bin", f"{helper}-suid")
        target = os.path.join(target_dir, f"singularity-{helper}-helper")
        if not os.path.exists(source):
            continue  # that Singularity has no such helper (3.x dropped them)
        try:
            done = stat.S_IMODE(os.stat(target).st_mode) == 0o4755
        except FileNotFoundError:
            done = False
        if not done:
            steps.append(
                Step("setuid", f"install -m 4755 {source} {target}", path=target, source=source)
            )
    return steps


async def apply(steps: list[Step]) -> None:
    """Carry out ``steps`` in order; ``CorralError`` naming the one that failed."""
    from corral.engine.runner import Invocation, run_cli

    for step in steps:
        try:
            if step.kind == "account":
                await run_cli(step.argv, Invocation(timeout=60))
            elif step.kind == "directory":
                os.makedirs(step.path, mode=step.mode, exist_ok=True)
                os.chmod(step.path, step.mode)
            else:
                os.makedirs(os.path.dirname(step.path), mode=0o755, exist_ok=True)
                shutil.copyfile(step.source, step.path)
                os.chown(step.path, 0, 0)
                os.chmod(step.path, 0o4755)
        except (OSError, CorralError) as error:
            raise CorralError(f"activation: {step}: {error}") from error
