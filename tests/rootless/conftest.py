"""Fixtures of the rootless tests: real users (``corral-rl-*``) running this
checkout's corral and their own rootless Podman, removed with everything of
theirs however a test ends. Run as root (CI is); as anyone else they skip,
and in CI a missing tool fails them."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engines
import pytest
from rootless_users import RootlessUser, UserSetupError, missing_tools, remove_view

#: The rootless tests' TCP ports.
PORTS = range(25300, 25400)
IMAGE = "localhost/corral-rl-busybox:1"


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


def load_image(user: RootlessUser, tar: Path) -> None:
    """The busybox image in ``user``'s own (rootless) Podman storage."""
    res = user.run(
        "podman", "import", "--change", 'CMD ["/bin/sh"]',
        "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", str(tar), IMAGE,
    )  # fmt: skip
    assert res.returncode == 0, f"podman import as {user.name}: {res.stderr}"


def make_user(role: str, tar: Path | None, *, subids: bool = True) -> RootlessUser:
    try:
        user = RootlessUser.create(role, subids=subids)
    except UserSetupError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        if tar is not None:
            load_image(user, tar)
    except BaseException:
        user.remove()
        raise
    return user


@pytest.fixture(scope="module")
def rl_user(rootfs_tar: Path) -> Iterator[RootlessUser]:
    """A user with subordinate ranges and the busybox image (one per module)."""
    user = make_user("a", rootfs_tar)
    try:
        yield user
    finally:
        user.remove()


class UserCorral:
    """corral run by ``user`` on one configuration file in its home."""

    def __init__(self, user: RootlessUser, name: str, text: str) -> None:
        self.user = user
        self.path = user.write(name, text)

    def __call__(self, *args: str, timeout: float = 180) -> Any:
        return self.user.corral("-c", str(self.path), *args, timeout=timeout)

    def ok(self, *args: str, timeout: float = 180) -> str:
        res = self(*args, timeout=timeout)
        assert res.returncode == 0, f"corral {' '.join(args)}: {res.stdout}{res.stderr}"
        return str(res.stdout)

    def status(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in json.loads(self.ok("status", "--json"))}

    def podman(self, *args: str) -> str:
        res = self.user.run("podman", *args)
        assert res.returncode == 0, f"podman {' '.join(args)}: {res.stderr}"
        return str(res.stdout)

    def down(self) -> None:
        self("down", timeout=120)


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


def port(offset: int) -> int:
    assert 0 <= offset < len(PORTS)
    return PORTS[offset]
