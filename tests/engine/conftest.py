"""Fixtures for the engine layer's real-engine tests: one parametrized
``rt`` (runtime name, busybox image, API socket) per engine (Podman's API
socket is the session's ``podman_api``, in tests/conftest.py)."""

from __future__ import annotations

import pytest
from engine_runtime import Runtime

ENGINES = ["docker", "podman"]


@pytest.fixture(params=ENGINES)
def rt(request: pytest.FixtureRequest) -> Runtime:
    """The engine under test (looked up lazily so one broken engine spares the other)."""
    name: str = request.param
    image: str = request.getfixturevalue(f"busybox_ref_{name}")
    socket: str = (
        request.getfixturevalue("docker_engine")
        if name == "docker"
        else request.getfixturevalue("podman_api")
    )
    return Runtime(name, image, socket)
