"""Faults of a real dockerd — the tests' own (see conftest): paused with
SIGSTOP while corral stops a container, stopped and started again under
respawn containers, absent when corral starts, paused when the daemon gets
SIGTERM. corral reports every failure, retries, and never loses or doubles a
container."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import engines
import pytest
from conftest import PORTS, FaultCorral
from sv_helpers import wait_for

pytestmark = pytest.mark.engine

HTTPD = '["httpd", "-f", "-p", "80", "-h", "/"]'


def container(name: str, port: int | None = None, *, respawn: bool = True) -> str:
    ports = f'ports = ["127.0.0.1:{port}:80"]\n' if port is not None else ""
    return (
        f'[[container]]\nprovision = "{name}"\nimage = "{engines.BUSYBOX_REF}"\n'
        f"command = {HTTPD}\nrespawn = {json.dumps(respawn)}\nstop_timeout = 1\n{ports}"
    )


def config(*containers: str) -> str:
    return 'runtime = "docker"\n' + "\n".join(containers)


def serves(port: int, timeout: float = 30) -> bool:
    return "root:x:0:0" in engines.http_get(f"http://127.0.0.1:{port}/etc/passwd", timeout)


def containers_named(dockerd: engines.IsolatedDockerd, prefix: str) -> list[dict[str, Any]]:
    out = dockerd.docker("ps", "-a", "--filter", f"name={prefix}", "--format", "{{json .}}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def daemon_log(corral: FaultCorral) -> str:
    return (corral.tmp / "daemon.out").read_text(errors="replace")


def test_a_stop_while_the_engine_is_paused_fails_is_retried_and_done_after(
    dockerd: engines.IsolatedDockerd, docker_corral: FaultCorral
) -> None:
    corral = docker_corral
    corral.write(config(container("rela-pause", respawn=False)))
    corral.start_daemon()
    corral.run("up", timeout=60)
    container_id = corral.status()["rela-pause"]["container_id"]
    dockerd.pause()
    try:
        began = time.monotonic()
        stop = corral.run("stop", "rela-pause", check=False, timeout=90)
        took = time.monotonic() - began
        status = corral.status()["rela-pause"]
    finally:
        dockerd.resume()
    assert stop.returncode == 1, stop
    assert "rela-pause: cannot stop:" in stop.stderr
    assert f"docker at {dockerd.socket} did not answer within 16s" in stop.stderr
    assert took < 40
    assert status["state"] == "stopping"  # never "stopped" while the container stays
    assert status["reason"].startswith("cannot stop: stop ")
    assert status["reason"].endswith("; retrying")
    assert "rela-pause: stopping " in daemon_log(corral)
    assert "failed: stop " in daemon_log(corral)
    # the engine answers again: the retry removes it, and only then is it stopped
    wait_for(lambda: corral.status()["rela-pause"]["state"] == "stopped", timeout=60)
    assert corral.status()["rela-pause"]["reason"] is None
    assert containers_named(dockerd, "rela-pause") == []
    assert "rela-pause: stopped after all" in daemon_log(corral)
    assert container_id


def test_respawn_containers_come_back_once_each_after_dockerd_restarts(
    dockerd: engines.IsolatedDockerd, docker_corral: FaultCorral
) -> None:
    corral = docker_corral
    names = [f"rela-back{i}" for i in range(3)]
    ports = list(PORTS[:3])
    corral.write(config(*(container(n, p) for n, p in zip(names, ports, strict=True))))
    corral.start_daemon()
    corral.run("up", timeout=60)
    before = {n: s["container_id"] for n, s in corral.status().items()}
    assert all(serves(p) for p in ports)

    answered: list[bool] = []
    reasons: set[str] = set()
    done = threading.Event()

    def watch() -> None:  # status answers throughout
        while not done.is_set():
            try:
                for service in corral.status().values():
                    if service["reason"]:
                        reasons.add(service["reason"])
                answered.append(True)
            except Exception:
                answered.append(False)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        dockerd.stop()  # SIGTERM: it stops its containers and exits
        waiting = f"waiting for docker at {dockerd.socket} since "
        wait_for(lambda: any(r.startswith(waiting) for r in reasons), timeout=30)
        dockerd.start()
        for port in ports:
            assert serves(port, timeout=60)
        wait_for(lambda: all(s["state"] == "running" for s in corral.status().values()), 30)
    finally:
        done.set()
        watcher.join()
    assert answered and all(answered), f"{answered.count(False)} status requests failed"
    assert not any("Errno" in r for r in reasons), reasons
    after = corral.status()
    for name in names:
        # its engine went away under it: started again as it is (as --restart would)
        assert after[name]["container_id"] == before[name]
        assert after[name]["restarts"] == 1
        assert after[name]["enabled"]
        # exactly one container per service: the dead one set aside is removed
        wait_for(lambda n=name: [c["Names"] for c in containers_named(dockerd, n)] == [n], 30)
        assert containers_named(dockerd, name)[0]["State"] == "running"


def test_a_daemon_started_while_dockerd_is_away_waits_for_it(
    dockerd: engines.IsolatedDockerd, docker_corral: FaultCorral
) -> None:
    corral = docker_corral
    port = PORTS[10]
    corral.write(config(container("rela-early", port), container("rela-once", respawn=False)))
    dockerd.stop()
    corral.start_daemon()
    up = corral.run("up", check=False, timeout=60)
    assert up.returncode == 1
    status = corral.status()
    early, once = status["rela-early"], status["rela-once"]
    assert early["state"] == "stopped" and early["enabled"]
    assert early["reason"].startswith(f"waiting for docker at {dockerd.socket} since 20")
    assert once["reason"] == (
        f"cannot start: docker at {dockerd.socket} does not answer: No such file or directory"
    )
    assert "[Errno" not in up.stderr
    time.sleep(2)  # waiting is not failing: no respawn limit is reached meanwhile
    assert corral.status()["rela-early"]["enabled"]
    dockerd.start()
    assert serves(port, timeout=60)
    early = wait_for(lambda: corral.status()["rela-early"], timeout=10)
    wait_for(lambda: corral.status()["rela-early"]["state"] == "running", timeout=30)
    assert corral.status()["rela-early"]["reason"] is None
    assert corral.status()["rela-once"]["state"] == "stopped"  # no respawn: not retried
    assert "rela-early: docker at " in daemon_log(corral)


def test_sigterm_while_dockerd_is_paused_ends_and_leaves_the_container_for_adoption(
    dockerd: engines.IsolatedDockerd, docker_corral: FaultCorral
) -> None:
    corral = docker_corral
    port = PORTS[20]
    corral.write(config(container("rela-left", port)))
    daemon = corral.start_daemon()
    corral.run("up", timeout=60)
    container_id = corral.status()["rela-left"]["container_id"]
    dockerd.pause()
    try:
        began = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(40)
        except subprocess.TimeoutExpired:
            pytest.fail("the daemon did not end within 40 s of SIGTERM")
        took = time.monotonic() - began
    finally:
        dockerd.resume()
    bound = 1 + 10  # its stop timeout, plus the shutdown grace
    assert bound - 1 <= took < bound + 5, took
    log = daemon_log(corral)
    assert "shutdown: not stopped within 11 s, left as they are" in log
    assert f"rela-left (container {container_id})" in log
    # the labelled container stays; the stop that was sent to the paused engine
    # may still be done by it now that it runs again (corral cannot take it back)
    time.sleep(3)
    left = [c for c in containers_named(dockerd, "rela-left") if c["State"] == "running"]
    assert all(c["Labels"].find("corral.service=rela-left") >= 0 for c in left)
    corral.daemon = None
    corral.start_daemon()
    corral.run("up", timeout=60)
    if left:  # the next daemon adopts it: the same container, not restarted
        assert corral.status()["rela-left"]["container_id"] == container_id
    assert [c["Names"] for c in containers_named(dockerd, "rela-left")] == ["rela-left"]
    assert serves(port)


def test_stale_set_aside_names_are_gone_after_down(
    dockerd: engines.IsolatedDockerd, docker_corral: FaultCorral, tmp_path: Path
) -> None:
    corral = docker_corral
    corral.write(config(container("rela-down", PORTS[30])))
    corral.start_daemon()
    corral.run("up", timeout=60)
    dockerd.restart()
    assert serves(PORTS[30], timeout=60)
    down = corral.run("down", check=False, timeout=90)
    assert down.returncode == 0, down.stderr
    assert containers_named(dockerd, "rela-down") == []
