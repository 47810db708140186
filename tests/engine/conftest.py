"""Fixtures for the engine layer's real-engine tests: one parametrized
``rt`` (runtime name, busybox image, API socket) per engine."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_runtime import Runtime

ENGINES = ["docker", "podman"]
PODMAN_TEST_SOCKET = f"/run/corral/podman-test-{os.getpid()}.sock"


def _answers(path: str) -> bool:
    import http.client
    import socket

    class _Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(2)
            self.sock.connect(path)

    try:
        conn = _Conn("engine")
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def podman_api(podman_engine: str) -> Iterator[str]:
    """A ``podman system service`` of our own on a test socket (stopped after)."""
    Path(PODMAN_TEST_SOCKET).parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{PODMAN_TEST_SOCKET}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(PODMAN_TEST_SOCKET):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("podman system service did not answer", pytrace=False)
            time.sleep(0.1)
        yield PODMAN_TEST_SOCKET
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(PODMAN_TEST_SOCKET)


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
