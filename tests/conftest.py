"""Engine fixtures only (see tests/engines.py). Nothing else belongs here."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
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


#: The Podman API service of this test session (``podman_api``).
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
