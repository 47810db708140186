"""corral as an ordinary user on rootless Podman (issue 20, item 1): a
container serves HTTP on a published high port; respawn, adoption after
kill -9 of the daemon and graceful stop work as for root; its state, socket
and Podman service are the user's own."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import engines
from rootless_users import IMAGE, port


def _web(name: str, host_port: int, respawn: bool = False) -> str:
    return f'''
runtime = "podman"
[[container]]
provision = "{name}"
image = "{IMAGE}"
command = ["sh", "-c", "echo hello-{name} > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
ports = ["127.0.0.1:{host_port}:8080"]
respawn = {str(respawn).lower()}
stop_timeout = 3
'''


def _wait(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _daemon_pid(user: Any) -> int:
    for pid in user.pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if argv.startswith(b"corral daemon"):  # its title (setproctitle)
            return pid
    raise AssertionError(f"no corral daemon among {user.name}'s processes")


def test_serves_http_on_a_published_high_port(user_corral: Any) -> None:
    corral = user_corral(_web("rl-web", port(0)))
    out = corral("up")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hello-rl-web" in engines.http_get(f"http://127.0.0.1:{port(0)}/", timeout=20)
    status = corral.status()["rl-web"]
    assert status["state"] == "running"
    user = corral.user
    # Its socket and Podman's are in the user's runtime directory, its state in
    # ~/.local/state/corral, all of them the user's own and closed to others.
    runtime = user.runtime_dir / "corral"
    for path in (runtime / "corral.sock", runtime / "podman.sock"):
        info = path.lstat()
        assert info.st_uid == user.uid, path
    state = user.home / ".local/state/corral"
    assert state.stat().st_uid == user.uid and state.stat().st_mode & 0o077 == 0
    assert (state / "daemon.log").stat().st_uid == user.uid
    # The container is in the user's rootless storage, not root's.
    assert "rl-web" in corral.podman("ps", "--format", "{{.Names}}").split()
    rootful = engines._run("podman", "ps", "-a", "--format", "{{.ID}}").stdout
    assert status["container_id"] not in rootful


def test_respawn_adoption_after_kill_9_and_graceful_stop(user_corral: Any) -> None:
    corral = user_corral(_web("rl-re", port(1), respawn=True))
    corral.ok("up")
    pid_file = corral.user.runtime_dir / "corral" / "podman.sock.pid"
    services = [pid_file.read_text().strip()]
    first = corral.status()["rl-re"]["container_id"]
    # respawn: the container's process dies, corral starts a new one
    corral.podman("kill", "--signal", "KILL", "rl-re")
    respawned = _wait(
        "respawn",
        lambda: (s := corral.status()["rl-re"])["restarts"] >= 1 and s["state"] == "running" and s,
    )
    assert respawned["container_id"] != first
    assert "hello-rl-re" in engines.http_get(f"http://127.0.0.1:{port(1)}/", timeout=20)
    # adoption: the daemon killed with -9, a new `up` takes the running container over
    daemon = _daemon_pid(corral.user)
    os.kill(daemon, signal.SIGKILL)
    _wait("the daemon gone", lambda: daemon not in corral.user.pids())
    corral.ok("up")
    services.append(pid_file.read_text().strip())
    adopted = corral.status()["rl-re"]
    assert adopted["container_id"] == respawned["container_id"] and adopted["state"] == "running"
    assert "hello-rl-re" in engines.http_get(f"http://127.0.0.1:{port(1)}/", timeout=20)
    # graceful stop: down stops the container (removed), the daemon and its Podman service
    corral.ok("down")
    assert "rl-re" not in corral.podman("ps", "-a", "--format", "{{.Names}}").split()
    try:
        _wait("no corral processes", lambda: not _corral_processes(corral.user), timeout=15)
    except AssertionError:
        state = corral.user.home / ".local/state/corral/daemon.log"
        service = corral.user.runtime_dir / "corral/podman.sock.log"
        raise AssertionError(
            f"left running: {_corral_processes(corral.user)}; services {services}\n"
            f"{state.read_text()[-1500:]}"
            f"\n{service.read_text()[-1500:]}"
        ) from None
    assert not (corral.user.runtime_dir / "corral" / "podman.sock.pid").exists()


def _corral_processes(user: Any) -> list[tuple[int, str]]:
    found = []
    for pid in user.pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"corral" in argv:
            found.append((pid, argv.replace(b"\0", b" ").decode()[:200]))
    return found


def test_keep_id_and_U_write_files_owned_by_the_user(user_corral: Any) -> None:
    corral = user_corral("", name="keep.toml")
    home = corral.user.home
    data = home / "data"
    data.mkdir()
    os.chown(data, corral.user.uid, corral.user.gid)
    made = home / "made-by-corral"  # absent: corral creates it, the user's own
    corral.path.write_text(f'''
runtime = "podman"
[[container]]
provision = "rl-writer"
image = "{IMAGE}"
command = ["sh", "-c", "id -u > /data/uid; touch /made/file; exec sleep 600"]
volumes = ["{data}:/data", "{made}:/made:U"]
userns = "keep-id"
stop_timeout = 1
''')
    corral.ok("up")
    _wait("the files", lambda: (data / "uid").exists() and (made / "file").exists())
    assert (data / "uid").read_text().strip() == str(corral.user.uid)
    assert (data / "uid").stat().st_uid == corral.user.uid
    assert made.stat().st_uid == corral.user.uid
    assert (made / "file").stat().st_uid == corral.user.uid
