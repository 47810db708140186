"""More of issue 4 on real engines: API and CLI creation agree, health-driven
restarts, networks and volumes, container log files, in-place updates."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import engines
import pytest
from sv_helpers import Corral, wait_for

from corral.config import OciContainer
from corral.engine import containers
from corral.engine.client import connect
from corral.engine.containers import invocation_for
from corral.engine.endpoint import Endpoint, at, endpoint_for
from corral.render import container_spec, create_document

pytestmark = pytest.mark.engine


def unique(what: str) -> str:
    return f"feat-{what}-{uuid.uuid4().hex[:6]}"


def inspect(runtime: str, kind: str, name: str) -> dict[str, Any] | None:
    done = subprocess.run([runtime, kind, "inspect", name], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    document: dict[str, Any] = json.loads(done.stdout)[0]
    return document


def test_api_and_cli_creation_agree(runtime: str, tmp_path: Path) -> None:
    """The same declaration through the Engine API and through the CLI gives the
    same container (the CLI path is taken when extra_arguments are present)."""
    image = engines.busybox_image(runtime)
    shared = tmp_path / "api-and-cli"
    shared.mkdir()
    port = engines.free_port()
    base: dict[str, Any] = {
        "image": image,
        "command": ["sleep", "600"],
        "entrypoint": "/bin/busybox",
        "environment": ["A=1", ("B", "two words")],
        "ports": [f"127.0.0.1:{port}:8080", "9090/udp"],
        "volumes": [(str(shared), "/shared"), f"{shared}:/ro:ro"],
        "container_user": "1000",
        "workdir": "/tmp",
        "hostname": "same",
        "labels": {"team": "ops"},
        "stop_signal": "SIGUSR1",
        "stop_timeout": 3,
        "health_cmd": "true",
        "health_interval": 2,
        "health_timeout": 1.5,
        "health_retries": 2,
        "health_start_period": 0.5,
        "read_only": True,
    }
    api = OciContainer(**base)
    cli = OciContainer(**base, extra_arguments=["--label", "path=cli"])
    names = [unique("api"), unique("cli")]
    specs = [
        container_spec(c, n, runtime, {"corral.config-hash": "h"})
        for c, n in ((api, names[0]), (cli, names[1]))
    ]
    assert create_document(specs[0]) is not None and create_document(specs[1]) is None

    async def create() -> None:
        engine = await connect(engines_endpoint(runtime))
        try:
            for spec, container in zip(specs, (api, cli), strict=True):
                await containers.create(engine, spec, invocation_for(container, runtime))
        finally:
            await engine.close()
            if engine.service is not None:
                await engine.service.stop()

    try:
        asyncio.run(create())
        docs = [inspect(runtime, "container", n) for n in names]
        assert docs[0] is not None and docs[1] is not None

        def shape(doc: dict[str, Any]) -> dict[str, Any]:
            config, host = doc["Config"], doc["HostConfig"]
            labels = {k: v for k, v in config["Labels"].items() if k != "path"}
            labels.pop("corral.service", None)
            env = sorted(e for e in config["Env"] if e.split("=")[0] in ("A", "B"))
            return {
                "cmd": config["Cmd"], "entrypoint": config["Entrypoint"], "env": env,
                "user": config["User"], "workdir": config["WorkingDir"],
                "hostname": config["Hostname"], "labels": labels,
                "stop_signal": config.get("StopSignal"), "stop_timeout": config.get("StopTimeout"),
                "health": config.get("Healthcheck"), "ports": ports(host["PortBindings"]),
                "binds": sorted(host["Binds"] or []), "read_only": host["ReadonlyRootfs"],
            }  # fmt: skip

        def ports(bindings: dict[str, list[dict[str, str]]]) -> dict[str, list[tuple[str, str]]]:
            # Podman picks a random host port for "9090/udp" at create time
            return {
                key: [(b["HostIp"], "*" if key == "9090/udp" else b["HostPort"]) for b in value]
                for key, value in bindings.items()
            }

        assert shape(docs[0]) == shape(docs[1])
        assert docs[1]["Config"]["Labels"]["path"] == "cli"
    finally:
        for name in names:
            # podman may still hold the container while its API service stops: retry
            wait_for(lambda n=name: remove(runtime, n), every=0.25)


def remove(runtime: str, name: str) -> bool:
    subprocess.run([runtime, "rm", "-f", name], capture_output=True)
    return inspect(runtime, "container", name) is None


def engines_endpoint(runtime: str) -> Endpoint:
    """The host's dockerd, or a Podman API service of the test's own."""
    if runtime == "docker":
        return endpoint_for(None, "docker", "/nonexistent", environ={})
    return at(
        "podman", f"/run/corral/podman-features-{uuid.uuid4().hex[:6]}.sock", own_service=True
    )


def test_unhealthy_container_is_restarted(corral: Corral, runtime: str) -> None:
    shared = corral.tmp / "shared"
    (shared / "healthy").touch()
    name = unique("sick")
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\ncommand = ["sleep", "600"]\n'
        f'volumes = [["{shared}", "/shared"]]\nhealth_cmd = "test -f /shared/healthy"\n'
        "health_interval = 0.5\nhealth_timeout = 2\nhealth_retries = 1\n"
        'on_unhealthy = "restart"\nrespawn = true\nrespawn_delay = 0.1\nstop_timeout = 1\n'
    )
    corral.run("up", timeout=120)
    first = corral.status()[name]["container_id"]
    (shared / "healthy").unlink()

    def replaced() -> bool:
        status = corral.status()[name]
        return status["restarts"] >= 1 and status["container_id"] not in (None, first)

    wait_for(replaced, timeout=60, every=0.2)
    (shared / "healthy").touch()

    def healthy_and_running() -> bool:
        # the health field changes a moment before the state does: wait for both
        status = corral.status()[name]
        return status["health"] == "healthy" and status["state"] == "running"

    wait_for(healthy_and_running, timeout=60, every=0.2)


def test_networks_and_volumes(corral: Corral, runtime: str) -> None:
    net, vol, app = unique("net"), unique("vol"), unique("app")
    image = engines.busybox_image(runtime)

    def write(subnet: str) -> None:
        corral.write(
            f'runtime = "{runtime}"\n'
            f'[[network]]\nname = "{net}"\nsubnet = "{subnet}"\nlabels = {{ purpose = "test" }}\n'
            f'[[volume]]\nname = "{vol}"\n'
            f'[[container]]\nprovision = "{app}"\nimage = "{image}"\nnetwork = "{net}"\n'
            f'volumes = ["{vol}:/data"]\nstop_timeout = 1\n'
            'command = ["sh", "-c", "echo kept > /data/file; exec sleep 600"]\n'
        )

    write("10.231.7.0/24")
    corral.run("up", timeout=120)
    found = inspect(runtime, "network", net)
    assert found is not None and subnet(found) == "10.231.7.0/24"
    assert inspect(runtime, "volume", vol) is not None
    status = corral.status_via_cli()
    assert status[f"{runtime}-network-{net}"]["reason"] == "done"
    assert status[app]["state"] == "running"

    write("10.231.8.0/24")
    plan = corral.run("plan").stdout
    assert f"restart {runtime}-network-{net}: changed subnet" in plan
    corral.run("reload", timeout=120)
    found = inspect(runtime, "network", net)
    assert found is not None and subnet(found) == "10.231.8.0/24"
    assert corral.status()[app]["state"] == "running"

    corral.run("down", timeout=120)
    assert inspect(runtime, "network", net) is not None  # kept by a plain down
    assert inspect(runtime, "volume", vol) is not None
    corral.run("up", timeout=120)
    corral.run("down", "--volumes", timeout=120)
    assert inspect(runtime, "network", net) is None
    assert inspect(runtime, "volume", vol) is None


def subnet(network: dict[str, Any]) -> str:
    """The subnet of a `network inspect` document (Docker's and Podman's shapes)."""
    if "IPAM" in network:
        return str(network["IPAM"]["Config"][0]["Subnet"])
    return str(network["subnets"][0]["subnet"])


def test_log_file_from_the_first_byte_and_across_restarts(corral: Corral, runtime: str) -> None:
    name = unique("talker")
    log = corral.tmp / "talker.log"
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\nlog_file = "{log}"\nstop_timeout = 1\n'
        'command = ["sh", "-c", "echo first line; echo to stderr >&2; exec sleep 600"]\n'
    )
    corral.run("up", timeout=120)
    wait_for(lambda: log.exists() and "to stderr" in log.read_text(), timeout=30)
    # from the first byte: both streams' first lines (their relative order is the engine's)
    assert set(log.read_text().splitlines()[:2]) == {"first line", "to stderr"}
    corral.run("restart", name, timeout=120)
    wait_for(lambda: log.read_text().count("first line") == 2, timeout=30)
    assert corral.run("logs", name, "-n", "2").stdout.count("first line") == 1


def test_engine_log_read_and_followed_across_restarts(corral: Corral, runtime: str) -> None:
    """Without log_file, `corral logs` reads the engine's log over its API at the
    service's endpoint, and `-f` goes on with the next container of the name."""
    name = unique("enginelog")
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\nstop_timeout = 1\n'
        'command = ["sh", "-c", "echo one; echo two; echo three >&2; exec sleep 600"]\n'
    )
    corral.run("up", timeout=120)
    wait_for(lambda: "three" in corral.run("logs", name, "-n", "5").stdout, timeout=30)
    last = corral.run("logs", name, "-n", "2").stdout.split()
    # the last two lines (how stdout and stderr interleave is the engine's)
    assert len(last) == 2 and set(last) <= {"one", "two", "three"}
    follower = subprocess.Popen(
        corral.argv("logs", name, "-f", "-n", "1"), env=corral.env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(follower.stdout or ()), daemon=True)
    reader.start()
    try:
        wait_for(lambda: seen, timeout=30)  # the first container's last line(s)
        corral.run("restart", name, timeout=120)
        # the next container, followed from its first byte: all three of its lines
        wait_for(lambda: {"one\n", "two\n", "three\n"} <= set(seen[1:]), timeout=30)
    finally:
        follower.terminate()
        follower.wait(timeout=30)
    assert seen.count("one\n") == 1, seen  # the first container's tail was one line
    # reading the log left the daemon's engine alone: it still supervises
    corral.run("restart", name, timeout=120)
    assert corral.status()[name]["state"] == "running"


def test_actions_change_applies_without_restart(corral: Corral, runtime: str) -> None:
    name = unique("calm")
    head = (
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\ncommand = ["sleep", "600"]\n'
        "stop_timeout = 1\n"
    )
    corral.write(head)
    corral.run("up", timeout=120)
    before = corral.status()[name]["container_id"]
    corral.write(
        head + '[[container.actions]]\nname = "where"\ncommand = ["sh", "-c", '
        '"echo $CORRAL_SERVICE in $CORRAL_CONTAINER"]\n'
    )
    assert f"update {name}: changed actions (no restart)" in corral.run("plan").stdout
    corral.run("reload", timeout=60)
    assert corral.status()[name]["container_id"] == before
    assert corral.run("action", name, "where").stdout == f"{name} in {name}\n"


def test_container_log_file_rotates_like_a_process_log(corral: Corral, runtime: str) -> None:
    name = unique("chatty")
    log = corral.tmp / "chatty.log"
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\nlog_file = "{log}"\nstop_timeout = 1\n'
        'command = ["sh", "-c", "for i in $(seq 1 60); do echo line-$i; done; exec sleep 600"]\n'
    )
    corral.start_daemon("--log-max-bytes", "200", "--log-keep", "2")
    corral.run("up", timeout=120)
    wait_for(lambda: log.exists() and "line-60" in log.read_text(), timeout=30)
    rotated = [log, log.with_name("chatty.log.1"), log.with_name("chatty.log.2")]
    sizes = [p.stat().st_size if p.exists() else None for p in rotated]
    assert all(size is not None and size <= 200 for size in sizes), sizes
    assert not log.with_name("chatty.log.3").exists()
    assert oct(log.stat().st_mode & 0o777) == "0o640"
    assert all(line.startswith("line-") for p in rotated for line in p.read_text().splitlines())
