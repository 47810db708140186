"""`corral up` and `corral daemon`: click wiring to run_daemon and spawn_daemon."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

from sv_helpers import Corral, corral

__all__ = ["corral"]

SLEEPER = '[[process]]\nname = "web"\ncommand = ["sleep", "60"]\n'


def test_up_with_a_relative_config_titles_its_daemon_with_the_absolute_path(
    corral: Corral,
) -> None:
    corral.write(SLEEPER)
    done = subprocess.run(
        ["corral", "-c", corral.config.name, "--socket", str(corral.socket), "up"],
        cwd=corral.tmp,
        env=corral.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "all services up\n"
    pid = corral.daemon_pid()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode()
    assert cmdline == f"corral daemon -c {corral.config} --socket {corral.socket}"
    assert corral.status()["web"]["state"] == "running"
    corral.run("down")
    assert not corral.answers()


def test_up_says_in_one_line_why_its_daemon_exited_at_once(corral: Corral) -> None:
    corral.write(SLEEPER)
    corral.socket.parent.mkdir(parents=True)
    with open(f"{corral.socket}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = corral.run("up", check=False)
    assert done.returncode == 1
    assert done.stderr == (
        "corral: the daemon exited at once: corral daemon: "
        f"a corral daemon is already running on {corral.socket}\n"
    )
    (corral.state / "daemon.log").unlink()  # no daemon served: nothing for teardown to stop


def test_up_with_an_invalid_config_prints_each_located_problem(corral: Corral) -> None:
    corral.write('[[process]]\nname = "x"\ncommand = []\n[[process]]\nname = "y"\n')
    done = corral.run("up", check=False)
    assert done.returncode == 2
    problems = done.stderr.splitlines()
    assert len(problems) >= 2 and "Traceback" not in done.stderr
    assert all(line.startswith(f"{corral.config}:") for line in problems)
    assert not corral.answers()


def test_daemon_in_the_foreground_keeps_its_argv_and_serves(corral: Corral) -> None:
    corral.write(SLEEPER)
    daemon = corral.start_daemon("--log-keep", "2")
    cmdline = Path(f"/proc/{daemon.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[-4:-1] == [b"daemon", b"--log-keep", b"2"]
    assert corral.status()["web"]["state"] == "stopped"
