"""A compose file given to ``corral -c`` starts and serves, on docker and on
Podman: HTTP on a published port, and the service answers another container
under its service name and under its ``container_name``."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import engines
import pytest
from sv_helpers import Corral, finish, wait_for

pytestmark = pytest.mark.engine

#: A published port and a subnet of this branch's ranges, per engine.
PORTS = {"docker": 25110, "podman": 25111}
SUBNETS = {"docker": "10.243.10.0/24", "podman": "10.243.11.0/24"}

COMPOSE = """
x-corral:
  runtime: {runtime}
services:
  web:
    image: {image}
    container_name: {web}
    entrypoint: /bin/busybox
    command: httpd -f -p 8080 -h /www
    ports: ["127.0.0.1:{port}:8080"]
    volumes: ["./www:/www:ro"]
    networks: [app]
    stop_grace_period: 1s
  probe:
    image: {image}
    container_name: {probe}
    command: ["sleep", "600"]
    networks: [app]
    depends_on: [web]
    stop_grace_period: 1s
networks:
  app:
    name: {network}
    ipam:
      config:
        - subnet: {subnet}
"""


@pytest.fixture(params=["docker", "podman"])
def runtime(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue(f"busybox_ref_{request.param}")
    return str(request.param)


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {
        "web": f"compose18-web-{tag}",
        "probe": f"compose18-probe-{tag}",
        "network": f"compose18-net-{tag}",
    }


@pytest.fixture
def corral(tmp_path: Path, runtime: str, names: dict[str, str]) -> Iterator[Corral]:
    instance = Corral(
        tmp=tmp_path,
        config=tmp_path / "compose.yaml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
    )
    try:
        yield instance
    finally:
        finish(instance, runtime)
        for name in (names["web"], names["probe"]):
            subprocess.run([runtime, "rm", "-f", name], capture_output=True)
        subprocess.run([runtime, "network", "rm", names["network"]], capture_output=True)


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def test_a_compose_file_starts_and_serves(
    corral: Corral, runtime: str, names: dict[str, str], tmp_path: Path
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from compose\n")
    port = PORTS[runtime]
    corral.write(
        COMPOSE.format(
            runtime=runtime,
            image=engines.busybox_image(runtime),
            port=port,
            subnet=SUBNETS[runtime],
            **names,
        )
    )
    corral.run("up", timeout=180)
    assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/"), timeout=30) == (
        "hello from compose\n"
    )
    status = corral.status()
    assert status[names["web"]]["state"] == "running"
    assert status[names["probe"]]["state"] == "running"
    for host in ("web", names["web"]):  # the service name, and its container_name
        done = subprocess.run(
            [runtime, "exec", names["probe"], "wget", "-q", "-O-", f"http://{host}:8080/"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (done.returncode, done.stdout) == (0, "hello from compose\n"), done.stderr
