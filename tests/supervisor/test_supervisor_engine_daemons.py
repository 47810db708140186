"""corral runs the engines itself: an isolated containerd + dockerd under a temp
directory (a bridge of their own) that corral's containers really use; kill -9
of that dockerd brings it and its container back; ``down`` leaves no process
and no mount of the instance. And the ``[podman]`` table's API service, with a
container on it. Real daemons, started by the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sv_helpers import Corral, wait_for

from corral.supervisor.leftovers import helper_processes, mounts_under

pytestmark = pytest.mark.engine

WEB_PORT = 21990
PODMAN_WEB_PORT = 21991
IMAGE = """
[container.image]
repository = "localhost/corral-engines-web"
tag = "1"
programs = ["/bin/busybox"]
symlinks = [["/bin/sh", "/bin/busybox"], ["/bin/httpd", "/bin/busybox"]]
files = [["www", "/www"]]
"""


def serves(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


@pytest.fixture
def instance() -> Iterator[Path]:
    """A short temp root (socket paths stay under 108 bytes) and a bridge of its own."""
    root = Path(tempfile.mkdtemp(prefix="corral-eng-", dir="/tmp"))
    bridge = f"crl{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.232.7.1/24", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    (root / "daemon.json").write_text(f'{{"bridge": "{bridge}"}}\n')
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("isolated\n")
    try:
        yield root
    finally:
        for pid, _ in helper_processes((str(root),)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        for point in mounts_under((str(root),)):
            subprocess.run(["umount", "-l", point], check=False)
        subprocess.run(["ip", "link", "del", bridge], check=False)
        shutil.rmtree(root, ignore_errors=True)


def isolated_config(root: Path) -> str:
    return textwrap.dedent(
        f"""
        runtime = "docker"
        [containerd]
        address = "{root}/run/ctd/containerd.sock"
        root = "{root}/lib/containerd"
        state = "{root}/run/ctd/state"
        [docker]
        host = "unix://{root}/run/docker.sock"
        data_root = "{root}/lib/docker"
        exec_root = "{root}/run/docker"
        pid_file = "{root}/run/docker.pid"
        config_file = "{root}/daemon.json"
        [[container]]
        provision = "isoweb"
        command = ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
        ports = ["127.0.0.1:{WEB_PORT}:8080"]
        respawn = true
        stop_timeout = 1
        """
    ) + IMAGE.replace('"www"', f'"{root}/www"')


def docker_names(socket: str | None) -> list[str]:
    argv = ["docker", *(["-H", f"unix://{socket}"] if socket else []), "ps", "-a"]
    done = subprocess.run(
        [*argv, "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_isolated_containerd_and_dockerd_run_corrals_container(
    instance: Path, docker_engine: str
) -> None:
    corral = Corral(
        instance, instance / "corral.toml", instance / "corral.sock", instance / "state"
    )
    corral.write(isolated_config(instance))
    socket = str(instance / "run" / "docker.sock")
    try:
        corral.run("up", timeout=120)
        assert wait_for(lambda: serves(WEB_PORT), timeout=20) == "isolated\n"
        assert docker_names(socket) == ["isoweb"]  # the instance corral runs has it
        assert "isoweb" not in docker_names(None)  # the host's dockerd does not
        # its log comes from that instance too
        logs = wait_for(lambda: "response:200" in corral.run("logs", "isoweb").stdout, timeout=10)
        assert logs
        status = corral.status()
        assert status["dockerd"]["state"] == "running"
        assert status["containerd"]["state"] == "running"
        # the daemon's own lines, as corral runs them
        line = corral.run("command-line", "dockerd").stdout
        assert f"--containerd {instance}/run/ctd/containerd.sock" in line
        assert f"--host unix://{socket}" in line

        # kill -9 of the dockerd corral runs: it comes back, and so does the container
        before = status["dockerd"]["pid"]
        os.kill(int(before), 9)
        seen: list[str] = []

        def dockerd_back() -> bool:
            now = corral.status()
            seen.append(str(now["isoweb"]["reason"]))
            return (
                now["dockerd"]["pid"] not in (None, before) and now["dockerd"]["state"] == "running"
            )

        wait_for(dockerd_back, timeout=30)
        # while it was away, the container under it said what it waits for
        assert any(r.startswith("waiting for dockerd") for r in seen), seen
        assert wait_for(lambda: serves(WEB_PORT), timeout=60) == "isolated\n"
        assert docker_names(socket) == ["isoweb"]  # exactly one container of that name
        assert corral.status()["isoweb"]["state"] == "running"

        down = corral.run("down", timeout=120)
        assert down.stdout.strip() == "stopped"
        # no process and no mount of the instance is left
        assert wait_for(lambda: not helper_processes((str(instance),)), timeout=10)
        assert mounts_under((str(instance),)) == []
        assert not any(
            str(instance) in " ".join(argv) for argv in _processes() if argv[0].endswith("dockerd")
        )
    finally:
        corral.teardown()


def _processes() -> list[list[str]]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as stream:
                    argv = [a.decode() for a in stream.read().split(b"\0") if a]
            except OSError:
                continue
            if argv:
                out.append(argv)
    return out


def test_podman_table_runs_the_service_and_a_container_on_it(
    tmp_path: Path, podman_engine: str
) -> None:
    root = Path(tempfile.mkdtemp(prefix="corral-pod-", dir="/tmp"))
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("on podman\n")
    socket = root / "podman.sock"
    corral = Corral(root, root / "corral.toml", root / "corral.sock", root / "state")
    corral.write(
        textwrap.dedent(
            f"""
            runtime = "podman"
            [podman]
            host = "unix://{socket}"
            [[container]]
            provision = "podweb"
            command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
            ports = ["127.0.0.1:{PODMAN_WEB_PORT}:8080"]
            respawn = true
            stop_timeout = 1
            """
        )
        + IMAGE.replace('"www"', f'"{root}/www"')
    )
    try:
        corral.run("up", timeout=120)
        assert wait_for(lambda: serves(PODMAN_WEB_PORT), timeout=20) == "on podman\n"
        status = corral.status()
        assert status["podman"]["state"] == "running"
        listed = subprocess.run(
            ["podman", "--url", f"unix://{socket}", "ps", "--format", "{{.Names}}"],
            capture_output=True,
            text=True,
            check=True,
        )
        # (rootful Podman's services share one store: count only this name)
        assert listed.stdout.split().count("podweb") == 1
        # the service is corral's: its pid is the one status shows, serving that socket
        with open(f"/proc/{status['podman']['pid']}/cmdline", "rb") as stream:
            assert f"unix://{socket}".encode() in stream.read()
        corral.run("down", timeout=120)
        wait_for(lambda: not socket.exists() or not _answers(str(socket)), timeout=15)
        time.sleep(0.2)
        assert not any(f"unix://{socket}" in argv for argv in _processes())
    finally:
        corral.teardown()
        subprocess.run(["podman", "rm", "-f", "podweb"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _answers(path: str) -> bool:
    import socket as sockets

    with sockets.socket(sockets.AF_UNIX) as client:
        try:
            client.connect(path)
        except OSError:
            return False
    return True


def test_host_dockerd_restart_brings_every_container_back(
    tmp_path: Path, docker_engine: str, busybox_ref_docker: str
) -> None:
    """No [docker] table: the host's dockerd is SIGTERMed and started again under a
    corral supervising three containers; all three come back, one of each, and
    ``status`` answers throughout."""
    import threading

    import engines

    names = [f"eng-host-{i}-{uuid.uuid4().hex[:4]}" for i in range(3)]
    corral = Corral(tmp_path, tmp_path / "corral.toml", tmp_path / "c.sock", tmp_path / "state")
    corral.write(
        "".join(
            f'[[container]]\nprovision = "{n}"\nimage = "{busybox_ref_docker}"\n'
            'command = ["sleep", "3600"]\nrespawn = true\nstop_timeout = 1\n'
            for n in names
        )
    )
    slowest = [0.0]
    failures: list[str] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            began = time.monotonic()
            try:
                corral.status()
            except Exception as error:
                failures.append(repr(error))
            slowest[0] = max(slowest[0], time.monotonic() - began)
            time.sleep(0.1)

    try:
        corral.run("up", timeout=120)
        before = {n: started_at(n) for n in names}
        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        pid = int(Path("/var/run/docker.pid").read_text())
        os.kill(pid, 15)
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=60)
        engines.ensure_dockerd()  # started again, as an operator would
        # each runs again (started after the restart), and corral says so
        wait_for(lambda: all(started_at(n) not in (None, before[n]) for n in names), timeout=90)
        wait_for(lambda: all(corral.status()[n]["state"] == "running" for n in names), 30)
        done.set()
        asker.join(10)
        assert not failures, failures
        assert slowest[0] < 5.0, f"status took {slowest[0]:.1f} s during the outage"
        listed = docker_names(None)
        assert [listed.count(n) for n in names] == [1, 1, 1]
    finally:
        done.set()
        engines.ensure_dockerd()
        corral.run("down", check=False, timeout=120)
        corral.teardown()
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)


def started_at(name: str) -> str | None:
    """When the host's container ``name`` last started, while it runs; else None."""
    done = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    running, _, when = done.stdout.strip().partition(" ")
    return when if done.returncode == 0 and running == "true" else None
