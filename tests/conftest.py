"""Engine fixtures only (see tests/engines.py). Nothing else belongs here."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import engines
import pytest

T = TypeVar("T")


def _engine_or_fail(what: str, bring_up: Callable[[], T]) -> T:
    """Bring an engine up; fail loudly as root or in CI, skip otherwise."""
    try:
        return bring_up()
    except engines.EngineUnavailable as exc:
        if engines.is_root() or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{what} unavailable:\n{exc}", pytrace=False)
        pytest.skip(f"{what} unavailable and not running as root: {exc}")


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """A running Docker daemon; the value is its socket path."""
    return _engine_or_fail("docker", engines.ensure_dockerd)


@pytest.fixture(scope="session")
def podman_engine() -> str:
    """A working rootful Podman; the value is the CLI name, "podman"."""
    _engine_or_fail("podman", engines.ensure_podman)
    return "podman"


@pytest.fixture(scope="session")
def busybox_ref_docker(docker_engine: str) -> str:
    """Ref of the local busybox test image in Docker (see engines.busybox_image)."""
    return _engine_or_fail("docker busybox image", lambda: engines.busybox_image("docker"))


@pytest.fixture(scope="session")
def busybox_ref_podman(podman_engine: str) -> str:
    """Ref of the local busybox test image in Podman (see engines.busybox_image)."""
    return _engine_or_fail("podman busybox image", lambda: engines.busybox_image("podman"))
