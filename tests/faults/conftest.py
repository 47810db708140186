"""Fixtures of the fault tests: engines of the tests' own, to pause, stop,
restart and kill on purpose — never the host's dockerd, never a Podman service
corral did not start — and a corral daemon pointed at them, all cleaned up
however a test ends (containers, processes, the bridge, dockerd's mounts)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import engines
import pytest
from sv_helpers import Corral, labelled_ids

#: The tests' bridge and its /24 (one isolated dockerd at a time).
BRIDGE = "rela-br-t"
SUBNET = "10.210.1"
#: TCP ports the fault tests publish on 127.0.0.1 (the helper's range).
PORTS = range(21100, 21200)


@dataclass
class FaultCorral(Corral):
    """A corral daemon with extra environment (the engine it is pointed at)."""

    extra: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    @property
    def env(self) -> dict[str, str]:
        env = {**super().env, **self.extra}
        for name in self.drop:
            env.pop(name, None)
        return env

    @property
    def podman_pid_file(self) -> Path:
        return self.state / "podman.sock.pid"


@pytest.fixture
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.IsolatedDockerd]:
    """A dockerd of the test's own (the host's is neither needed nor touched),
    the busybox test image imported into it; removed after."""
    daemon = engines.IsolatedDockerd(tmp_path_factory.mktemp("dk"), BRIDGE, SUBNET)
    try:
        try:
            daemon.start()
            daemon.busybox_image()
        except engines.EngineUnavailable as exc:
            pytest.fail(f"isolated dockerd: {exc}", pytrace=False)
        yield daemon
    finally:
        daemon.cleanup()


def _corral(tmp_path: Path, extra: dict[str, str], drop: tuple[str, ...] = ()) -> FaultCorral:
    return FaultCorral(
        tmp=tmp_path,
        config=tmp_path / "corral.toml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
        extra=extra,
        drop=drop,
    )


def _stop(instance: FaultCorral) -> None:
    if instance.answers():
        instance.run("down", check=False, timeout=120)
    instance.teardown()


@pytest.fixture
def docker_corral(tmp_path: Path, dockerd: engines.IsolatedDockerd) -> Iterator[FaultCorral]:
    """corral on the isolated dockerd (``DOCKER_HOST``)."""
    instance = _corral(tmp_path, {"DOCKER_HOST": dockerd.host})
    try:
        yield instance
    finally:
        dockerd.resume()
        _stop(instance)


@pytest.fixture
def podman_corral(tmp_path: Path, busybox_ref_podman: str) -> Iterator[FaultCorral]:
    """corral on Podman through the ``podman system service`` it starts itself."""
    instance = _corral(tmp_path, {}, drop=("CONTAINER_HOST",))
    try:
        yield instance
    finally:
        _stop(instance)
        for container_id in labelled_ids("podman", instance.state):
            subprocess.run(["podman", "rm", "-f", "--time", "0", container_id],
                           capture_output=True, check=False)  # fmt: skip
        with contextlib.suppress(OSError, ValueError):  # a service the daemon left
            pid = int(instance.podman_pid_file.read_text().strip())
            if b"service" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, 9)
