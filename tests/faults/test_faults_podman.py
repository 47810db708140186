"""Faults of Podman: the ``podman system service`` corral started for itself is
killed (with one of its containers killed meanwhile, behind its back).
corral starts the service again, learns what happened while it was away,
brings the dead container back, keeps the live one, and still shuts down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import engines
import pytest
from conftest import PORTS, FaultCorral
from sv_helpers import wait_for

pytestmark = pytest.mark.engine

HTTPD = '["httpd", "-f", "-p", "80", "-h", "/"]'


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _service_pid(corral: FaultCorral) -> int | None:
    try:
        pid = int(corral.podman_pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _running_id(name: str) -> str | None:
    """The ID (12 digits) of the container ``name`` while it runs, else None."""
    done = subprocess.run(["podman", "inspect", "--format", "{{.Id}} {{.State.Running}}", name],
                          capture_output=True, text=True, check=False)  # fmt: skip
    found, _, running = done.stdout.strip().partition(" ")
    return found[:12] if running == "true" else None


def test_a_killed_podman_service_is_restarted_and_supervision_goes_on(
    podman_corral: FaultCorral,
) -> None:
    corral = podman_corral
    names, ports = ["rela-pod0", "rela-pod1"], list(PORTS[50:52])
    corral.write('runtime = "podman"\n' + "\n".join(
        f'[[container]]\nprovision = "{n}"\nimage = "{engines.BUSYBOX_REF}"\n'
        f'command = {HTTPD}\nrespawn = true\nstop_timeout = 1\nports = ["127.0.0.1:{p}:80"]\n'
        for n, p in zip(names, ports, strict=True)
    ))  # fmt: skip
    corral.start_daemon()
    corral.run("up", timeout=90)
    before = {n: corral.status()[n]["container_id"] for n in names}
    first = _service_pid(corral)
    assert first is not None, "corral started no podman service of its own"

    os.kill(first, signal.SIGKILL)
    # behind its back: one container dies while corral cannot hear of it
    subprocess.run(["podman", "kill", names[0]], capture_output=True, check=True)

    second = wait_for(lambda: (p := _service_pid(corral)) not in (None, first) and p, 30)
    assert second != first

    def truthful() -> bool:
        status = corral.status()
        return all(
            status[n]["state"] == "running" and status[n]["container_id"] == _running_id(n)
            for n in names
        )

    wait_for(truthful, timeout=60, every=0.2)
    status = corral.status()
    # it died while the engine was away: started again as it is, counted as a restart
    assert status[names[0]]["restarts"] == 1
    assert status[names[0]]["container_id"] == before[names[0]]
    assert status[names[1]]["container_id"] == before[names[1]]  # kept, not restarted
    for port in ports:
        assert "root:x:0:0" in engines.http_get(f"http://127.0.0.1:{port}/etc/passwd", 30)
    log = (corral.tmp / "daemon.out").read_text()
    assert f"podman system service on {corral.state}/podman.sock (pid {first}) had died" in log

    began = time.monotonic()
    down = corral.run("down", check=False, timeout=90)
    assert down.returncode == 0, down.stderr
    assert time.monotonic() - began < 60
    out = subprocess.run(["podman", "ps", "-a", "--filter", "name=rela-pod", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert json.loads(out or "[]") == []
    wait_for(lambda: not _alive(second), timeout=20)  # down stopped the service it restarted
