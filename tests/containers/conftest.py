"""Fixtures of the container end-to-end tests: each test runs on docker and on
Podman, with its own corral daemon, cleaned up however the test ends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sv_helpers import Corral, labelled_ids


@pytest.fixture(params=["docker", "podman"])
def runtime(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue(f"busybox_ref_{request.param}")
    return str(request.param)


@pytest.fixture
def corral(tmp_path: Path, runtime: str) -> Iterator[Corral]:
    instance = Corral(
        tmp=tmp_path,
        config=tmp_path / "corral.toml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    try:
        yield instance
    finally:
        if instance.answers():
            instance.run("down", "--volumes", check=False, timeout=120)
        instance.teardown()
        for container_id in labelled_ids(runtime, instance.state):
            extra = ["--time", "0"] if runtime == "podman" else []
            subprocess.run([runtime, "rm", "-f", *extra, container_id], capture_output=True)
