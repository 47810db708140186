"""``corral export compose --swarm`` deployed for real: a one-node Swarm on an
isolated dockerd of the test's own (its bridge and docker_gwbridge on
10.245.x, so the shared host dockerd is never put in swarm mode), the image
corral built pushed first to a local registry (``corral image push --to``) and
named there by ``--image``; every service reaches its replicas, the web service
answers on its published port (``mode: host``: this kernel has no IPVS for the
routing mesh), then the stack is removed and the Swarm left, even on failure."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import engines
import pytest
from conftest import must
from registry_server import PASSWORD, USER, RegistryServer

ROOT = Path(__file__).resolve().parents[2]
WEB_PORT = 25420
STACK = "export17"

CONFIG = """\
runtime = "docker"

[[registry]]
host = "{registry}"
username = "{user}"
password_file = "{password_file}"

[[container]]
provision = "export17-web"
command = ["httpd", "-f", "-p", "{port}", "-h", "/www"]
ports = ["{port}:{port}"]
environment = ["MODE=swarm"]
health_cmd = "wget -q -O /dev/null http://127.0.0.1:{port}/index.html"
health_interval = 1
respawn = true
memory = "64m"
cpus = 0.5

[container.image]
repository = "localhost/export17-web"
tag = "1"
programs = ["/bin/busybox"]
symlinks = [["/bin/sh", "/bin/busybox"], ["/bin/httpd", "/bin/busybox"],
            ["/bin/wget", "/bin/busybox"], ["/bin/sleep", "/bin/busybox"]]
files = [["{www}", "/www"]]

[[container]]
provision = "export17-client"
image = "localhost/export17-web:1"
command = ["sh", "-c", "while true; do wget -q -O- http://export17-web:{port}/; sleep 2; done"]
requirement = ["export17-web"]
respawn = true
"""


def corral(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DOCKER_CONFIG": str(cwd / "dc")}
    return subprocess.run(
        ["corral", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
    )  # fmt: skip


def _get(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=3) as response:
        return str(response.read().decode())


def _wait(what: str, check: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()  # type: ignore[operator]
            if last:
                return
        except OSError as error:
            last = error
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})")


@pytest.mark.engine
def test_swarm_stack_deploy(tmp_path: Path, export_registry: RegistryServer,
                            docker_engine: str) -> None:  # fmt: skip
    must("docker-registry")
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("export17 swarm ok\n")
    (tmp_path / "dc").mkdir()
    config = tmp_path / "corral.toml"
    config.write_text(CONFIG.format(
        registry=export_registry.host, user=USER, password_file=export_registry.password_file,
        port=WEB_PORT, www=www,
    ))  # fmt: skip
    target = f"{export_registry.host}/export17/web:1"
    pushed = corral("-c", str(config), "image", "push", "export17-web", "--to", target,
                    cwd=tmp_path)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    out = str(tmp_path / "out")
    exported = corral("-c", str(config), "export", "compose", "--swarm", "-o", out,
                      "--image", f"localhost/export17-web:1={target}", cwd=tmp_path)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    stack_file = tmp_path / "out" / "compose.yaml"
    text = stack_file.read_text()
    assert text.count(f"image: {target}") == 2
    assert "mode: host" in text

    daemon = engines.IsolatedDockerd(Path("/tmp") / f"e17sw{os.getpid()}", "e17sw0", "10.245.10")
    gwbridge = "e17gwbridge"
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "dc")}

    def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "-H", daemon.host, *args], capture_output=True,
                              text=True, timeout=timeout, env=env)  # fmt: skip

    try:
        daemon.start()
        login = subprocess.run(
            ["docker", "-H", daemon.host, "login", "-u", USER, "--password-stdin",
             export_registry.host],
            input=PASSWORD, capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        made = docker("network", "create", "--subnet", "10.245.11.0/24",
                      "--opt", f"com.docker.network.bridge.name={gwbridge}",
                      "--opt", "com.docker.network.bridge.enable_icc=false",
                      "--opt", "com.docker.network.bridge.enable_ip_masquerade=false",
                      "docker_gwbridge")  # fmt: skip
        assert made.returncode == 0, made.stderr
        init = docker("swarm", "init", "--advertise-addr", "127.0.0.1",
                      "--listen-addr", "127.0.0.1:25450", "--data-path-port", "25451",
                      "--default-addr-pool", "10.245.128.0/17")  # fmt: skip
        assert init.returncode == 0, init.stderr
        deployed = docker("stack", "deploy", "--with-registry-auth", "-c", str(stack_file), STACK,
                          timeout=300)  # fmt: skip
        assert deployed.returncode == 0, deployed.stderr
        said = deployed.stdout + deployed.stderr
        assert "Ignoring unsupported options" not in said, said
        assert "Ignoring deprecated options" not in said, said

        def replicas() -> bool:
            listed = docker("service", "ls", "--format", "{{.Name}} {{.Replicas}}").stdout
            found = dict(line.split(" ", 1) for line in listed.splitlines())
            return found == {f"{STACK}_export17-web": "1/1", f"{STACK}_export17-client": "1/1"}

        _wait("every service at its replicas", replicas)
        _wait(
            "the web service answers on its published port",
            lambda: "export17 swarm ok" in _get(f"http://127.0.0.1:{WEB_PORT}/index.html"),
        )
        removed = docker("stack", "rm", STACK)
        assert removed.returncode == 0, removed.stderr
        _wait("the stack's containers gone", lambda: docker("ps", "-q").stdout.strip() == "")
    finally:
        with contextlib.suppress(Exception):
            docker("stack", "rm", STACK, timeout=60)
        with contextlib.suppress(Exception):
            docker("swarm", "leave", "--force", timeout=60)
        with contextlib.suppress(Exception):
            docker("network", "rm", "docker_gwbridge", timeout=60)
        daemon.cleanup()
        subprocess.run(["ip", "link", "delete", gwbridge], capture_output=True)
