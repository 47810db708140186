"""Fixtures of the registry tests: one real registry for the session (Debian's
docker-registry on 127.0.0.1, htpasswd auth, data under a temporary
directory), and a corral per test on docker and on Podman, whose environment
marks that registry insecure for Podman (``CONTAINERS_REGISTRIES_CONF``) and
points ``DOCKER_CONFIG`` at the test's own directory (never the host's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from registry_server import RegistryServer, RegistryUnavailable, free_port
from sv_helpers import Corral, finish

#: This helper's TCP ports (the registry listens on the first free one).
PORTS = (24000, 24050)


def _must(what: str) -> None:
    if shutil.which(what) is None:
        message = f"{what} is not installed (scripts/setup-host installs it)"
        if os.geteuid() == 0 or os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def registry() -> Iterator[RegistryServer]:
    for tool in ("docker-registry", "htpasswd"):
        _must(tool)
    root = Path(tempfile.mkdtemp(prefix="reg-registry-"))
    try:
        server = RegistryServer(root, free_port(*PORTS))
        server.start()
    except RegistryUnavailable as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        for runtime in ("docker", "podman"):
            _remove_images(runtime, (server.host + "/", "localhost/reg-build"))
        shutil.rmtree(root, ignore_errors=True)


def _remove_images(runtime: str, prefixes: tuple[str, ...]) -> None:
    if shutil.which(runtime) is None:
        return
    listed = subprocess.run(
        [runtime, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    doomed: set[str] = set()
    for line in listed.stdout.splitlines():
        name, _, image_id = line.partition(" ")
        if name.startswith(prefixes):
            doomed.add(name if not name.endswith(":<none>") else image_id)
    listed = subprocess.run(
        [runtime, "images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    doomed.update(n for n in listed.stdout.split() if n.startswith(prefixes) and "@sha256:" in n)
    for name in sorted(doomed):
        subprocess.run([runtime, "rmi", "-f", name], capture_output=True, check=False, timeout=60)


@dataclass
class RegCorral(Corral):
    """A corral whose processes get ``extra`` in their environment."""

    extra: dict[str, str] = field(default_factory=dict)
    runtime: str = "docker"

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "CORRAL_STATE_DIR": str(self.state), **self.extra}
        return env


@pytest.fixture(params=["docker", "podman"])
def runtime(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue(f"busybox_ref_{request.param}")
    return str(request.param)


@pytest.fixture
def corral(tmp_path: Path, runtime: str, registry: RegistryServer) -> Iterator[RegCorral]:
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    instance = RegCorral(
        tmp=tmp_path,
        config=tmp_path / "corral.toml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
        runtime=runtime,
        extra={
            "CONTAINERS_REGISTRIES_CONF": str(registry.registries_conf),
            "DOCKER_CONFIG": str(docker_config),
            "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
        },
    )
    try:
        yield instance
    finally:
        finish(instance, runtime)
        _stop_podman_service(instance.state)
        if not registry.process:
            registry.start()  # a test that stopped it failed before starting it again


def _stop_podman_service(state: Path) -> None:
    """The ``podman system service`` a terminal command left (none should)."""
    pid_file = state / "podman.sock.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 15)
    except (OSError, ValueError):
        pass
