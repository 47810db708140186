"""A round trip: one configuration run by corral (``corral up``) and, exported
to Compose, by Compose v2 (``up -d``) on the same host dockerd gives containers
whose ``inspect`` agrees on image, entrypoint and command, environment names,
ports, mounts, limits and health check. Names and ports are this helper's
(``export17``, 25430); both runs are taken down, the volume removed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sv_helpers import Corral, finish
from test_export_compose_bin import compose_v2

PORT = 25430
PROJECT = "export17rt"
VOLUME = "export17-rt-data"
SECRET = "rt-value-not-in-any-file"

CONFIG = """\
runtime = "docker"

[[container]]
provision = "export17-rt-web"
image = "{image}"
entrypoint = "/bin/sh"
command = ["-c", "exec httpd -f -p 8080 -h /www"]
environment = ["MODE=roundtrip", ["LANG", "C.UTF-8"], "RT_TOKEN"]
host_environment = [["RT_TOKEN", "{secret}"]]
ports = ["127.0.0.1:{port}:8080"]
volumes = ["{www}:/www:ro", "{volume}:/data"]
memory = "64m"
cpus = 0.5
pids_limit = 100
health_cmd = "wget -q -O /dev/null http://127.0.0.1:8080/"
health_interval = 2
health_timeout = 3
health_retries = 2
health_start_period = 1
stop_timeout = 5

[[container]]
provision = "export17-rt-client"
image = "{image}"
command = ["sh", "-c", "while true; do sleep 1; done"]
requirement = ["export17-rt-web"]
stop_timeout = 1
"""


HEALTH_KEYS = ("Test", "Interval", "Timeout", "Retries", "StartPeriod")


def inspect(name: str) -> dict[str, Any]:
    done = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)[0]
    return document


def essence(document: dict[str, Any]) -> dict[str, Any]:
    """What both runs must agree on."""
    config, host = document["Config"], document["HostConfig"]
    health = config.get("Healthcheck") or {}
    return {
        "image": config["Image"],
        "entrypoint": config["Entrypoint"],
        "command": config["Cmd"],
        "env names": sorted(entry.split("=", 1)[0] for entry in config["Env"]),
        "ports": host["PortBindings"] or {},  # none: null from one, {} from the other
        "mounts": sorted(
            (m["Type"], m.get("Name") or m["Source"], m["Destination"], m["RW"])
            for m in document["Mounts"]
        ),
        "memory": host["Memory"],
        "nano cpus": host["NanoCpus"],
        "pids limit": host["PidsLimit"],
        "health": {k: health.get(k) for k in HEALTH_KEYS},
    }


@pytest.fixture
def roundtrip(tmp_path: Path, busybox_ref_docker: str) -> Iterator[Corral]:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("round trip\n")
    instance = Corral(
        tmp=tmp_path,
        config=tmp_path / "corral.toml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
    )
    instance.write(CONFIG.format(image=busybox_ref_docker, secret=SECRET, port=PORT, www=www,
                                 volume=VOLUME))  # fmt: skip
    try:
        yield instance
    finally:
        finish(instance, "docker")
        compose = tmp_path / "out" / "compose.yaml"
        if compose.exists():
            subprocess.run([compose_v2(), "-p", PROJECT, "-f", str(compose), "down", "-t", "1"],
                           capture_output=True, timeout=120)  # fmt: skip
        subprocess.run(["docker", "volume", "rm", "-f", VOLUME], capture_output=True, timeout=60)


@pytest.mark.engine
def test_compose_up_matches_corral(roundtrip: Corral, tmp_path: Path) -> None:
    roundtrip.run("up", timeout=120)
    ours = {name: essence(inspect(name)) for name in ("export17-rt-web", "export17-rt-client")}
    ours_env = inspect("export17-rt-web")["Config"]["Env"]
    roundtrip.run("down", timeout=120)

    exported = roundtrip.run("export", "compose", "-o", str(tmp_path / "out"))
    text = (tmp_path / "out" / "compose.yaml").read_text()
    assert SECRET not in text and "RT_TOKEN: ${RT_TOKEN}" in text
    up = subprocess.run(
        [compose_v2(), "-p", PROJECT, "-f", str(tmp_path / "out" / "compose.yaml"), "up", "-d",
         "--wait", "--wait-timeout", "90"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "RT_TOKEN": SECRET},
    )  # fmt: skip
    assert up.returncode == 0, up.stderr + exported.stderr
    theirs = {
        name: essence(inspect(f"{PROJECT}-{name}-1"))
        for name in ("export17-rt-web", "export17-rt-client")
    }
    for name, fields in ours.items():
        differ = {k: (v, theirs[name][k]) for k, v in fields.items() if theirs[name][k] != v}
        assert differ == {}, name
    # the host_environment value reached both containers, by the environment only
    their_env = inspect(f"{PROJECT}-export17-rt-web-1")["Config"]["Env"]
    assert f"RT_TOKEN={SECRET}" in ours_env and f"RT_TOKEN={SECRET}" in their_env
