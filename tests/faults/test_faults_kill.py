"""kill -9 of the daemon in the middle of `up` and of `reload`, on docker and
Podman: a new daemon adopts what is there — one container per service, running,
no duplicate, no orphan (nothing of a service no longer declared, nothing set
aside), and no process of the dead daemon's left once the test is over."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import engines
import pytest
from _relb import Corral, engine_corral, labelled_ids, runtime, unique, wait_for, wait_gone

__all__ = ["engine_corral", "runtime"]

pytestmark = pytest.mark.engine

LOOP = "trap 'exit 0' TERM; while true; do sleep 1; done"


def containers(names: list[str], image: str, command: str = LOOP, chain: bool = True) -> str:
    """One ``[[container]]`` per name, each requiring the one before (``chain``)."""
    out = ""
    for i, name in enumerate(names):
        out += (
            f'[[container]]\nprovision = "{name}"\nimage = "{image}"\n'
            f"command = {json.dumps(['sh', '-c', command])}\nstop_timeout = 1\n"
        )
        if chain and i:
            out += f'requirement = ["{names[i - 1]}"]\n'
        out += "\n"
    return out


def inspect_all(runtime: str, state: Path) -> list[dict[str, Any]]:
    """The containers of the instance, each inspected (one removed meanwhile is left out)."""
    found: list[dict[str, Any]] = []
    for container_id in labelled_ids(runtime, state):
        done = subprocess.run([runtime, "inspect", container_id], capture_output=True, text=True)
        if done.returncode == 0:
            found += json.loads(done.stdout)
    return found


def by_service(runtime: str, state: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for data in inspect_all(runtime, state):
        out.setdefault(data["Config"]["Labels"]["corral.service"], []).append(data)
    return out


def kill_daemon(corral: Corral) -> int:
    pid = corral.daemon_pid()
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid, 10)
    return pid


def reap_leftovers(state: Path) -> None:
    """A Podman API service a killed daemon left (on ``<state>/podman.sock``),
    stopped once no daemon of the test runs, so the test leaves nothing behind."""
    needle = f"{state}/podman.sock".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                cmdline = file.read()
        except OSError:
            continue
        if needle in cmdline and b"corral daemon" not in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGTERM)


def assert_one_each(runtime: str, corral: Corral, commands: dict[str, str]) -> None:
    """Exactly the services of ``commands`` have a container, one each, running
    its declared command, under its own name."""
    found = by_service(runtime, corral.state)
    assert sorted(found) == sorted(commands), sorted(found)
    for name, command in commands.items():
        assert len(found[name]) == 1, [c["Name"] for c in found[name]]
        data = found[name][0]
        assert data["Name"].lstrip("/") == name  # nothing set aside under another name
        assert data["State"]["Running"], (name, data["State"])
        assert data["Config"]["Cmd"] == ["sh", "-c", command]
    status = corral.status()
    assert all(status[n]["state"] == "running" for n in commands), status


def test_kill_9_during_up_then_a_new_daemon_adopts(engine_corral: Corral, runtime: str) -> None:
    corral = engine_corral
    image = engines.busybox_image(runtime)
    names = [unique(f"up{i}") for i in range(4)]
    corral.write(f'runtime = "{runtime}"\n\n' + containers(names, image))
    try:
        up = subprocess.Popen(corral.argv("up"), env=corral.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
        wait_for(lambda: labelled_ids(runtime, corral.state), 120)
        kill_daemon(corral)  # with some of the chain created, the rest not
        up.communicate(timeout=60)
        assert up.returncode != 0
        corral.run("up", timeout=180)
        assert_one_each(runtime, corral, dict.fromkeys(names, LOOP))
        corral.run("down", timeout=120)
        assert labelled_ids(runtime, corral.state) == []
    finally:
        if corral.answers():
            corral.run("down", check=False, timeout=120)
        reap_leftovers(corral.state)


def test_kill_9_during_reload_then_a_new_daemon_adopts(engine_corral: Corral, runtime: str) -> None:
    corral = engine_corral
    image = engines.busybox_image(runtime)
    kept, changed, removed = unique("kept"), unique("changed"), unique("removed")
    added = [unique(f"added{i}") for i in range(3)]
    corral.write(f'runtime = "{runtime}"\n\n' + containers([kept, changed, removed], image,
                                                            chain=False))  # fmt: skip
    try:
        corral.run("up", timeout=180)
        before = {n: c[0]["Id"] for n, c in by_service(runtime, corral.state).items()}
        edited = LOOP.replace("sleep 1", "sleep 2")
        corral.write(
            f'runtime = "{runtime}"\n\n'
            + containers([kept], image, chain=False)
            + containers([changed], image, edited, chain=False)
            + containers(added, image)
        )
        reload = subprocess.Popen(corral.argv("reload"), env=corral.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

        def under_way() -> bool:
            now = {c["Id"] for c in inspect_all(runtime, corral.state)}
            return now != set(before.values())

        wait_for(under_way, 120)
        kill_daemon(corral)
        reload.communicate(timeout=60)
        corral.run("up", timeout=180)  # a new daemon, from the edited file
        corral.run("reload", timeout=180)  # what the dead one left undone
        found = by_service(runtime, corral.state)
        assert removed not in found, "the removed service's container is an orphan"
        assert_one_each(
            runtime, corral, {kept: LOOP, changed: edited, **dict.fromkeys(added, LOOP)}
        )
        assert found[kept][0]["Id"] == before[kept]  # adopted, not recreated
        assert corral.run("plan").stdout.strip() == "nothing to do"
        corral.run("down", timeout=120)
        assert labelled_ids(runtime, corral.state) == []
    finally:
        if corral.answers():
            corral.run("down", check=False, timeout=120)
        reap_leftovers(corral.state)
