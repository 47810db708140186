"""Fixtures of the rootless tests: real users (``corral-rl-*``) running this
checkout's corral and their own rootless Podman, removed with everything of
theirs however a test ends. Run as root (CI is); as anyone else they skip,
and in CI a missing tool fails them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engines
import pytest
from rootless_users import RootlessUser, UserCorral, make_user, missing_tools, remove_view


def _need_root() -> None:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if os.geteuid() != 0:
        if in_ci:
            pytest.fail("the rootless tests create users: run them as root", pytrace=False)
        pytest.skip("the rootless tests create users: run them as root")
    missing = missing_tools()
    if missing:
        pytest.fail(f"missing for the rootless tests: {', '.join(missing)} "
                    "(scripts/setup-host installs them)", pytrace=False)  # fmt: skip


@pytest.fixture(scope="session")
def rootfs_tar() -> Iterator[Path]:
    """The busybox rootfs (tests/engines.py), readable by the test users."""
    _need_root()
    directory = Path(tempfile.mkdtemp(prefix="corral-rl-rootfs-", dir="/tmp"))
    tar = directory / "rootfs.tar"
    try:
        directory.chmod(0o755)
        engines._rootfs_tar(tar)
        tar.chmod(0o644)
        yield tar
    finally:
        tar.unlink(missing_ok=True)
        directory.rmdir()
        remove_view()


@pytest.fixture(scope="module")
def rl_user(rootfs_tar: Path) -> Iterator[RootlessUser]:
    """A user with subordinate ranges and the busybox image (one per module)."""
    user = make_user("a", rootfs_tar)
    try:
        yield user
    finally:
        user.remove()


@pytest.fixture
def user_corral(rl_user: RootlessUser) -> Iterator[Any]:
    """Make ``UserCorral``s of ``rl_user``; each is brought down afterwards, and
    nothing of the user's keeps running (its processes ended by pid)."""
    made: list[UserCorral] = []

    def make(text: str, name: str = "corral.toml") -> UserCorral:
        instance = UserCorral(rl_user, name, text)
        made.append(instance)
        return instance

    try:
        yield make
    finally:
        for instance in made:
            instance.down()
        rl_user.run("podman", "rm", "--all", "--force", "--time", "0")
        rl_user.kill_all()
