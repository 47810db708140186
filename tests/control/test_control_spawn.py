"""spawn_daemon: the forked daemon's title, descriptors, log and failures.

Each test calls ``spawn_daemon`` in a fresh interpreter (a caller that exits,
as ``corral up`` does) rather than forking pytest itself.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
from pathlib import Path

from sv_helpers import Corral, corral, wait_for

from corral.control.spawn import DAEMON_COMM, daemon_title

__all__ = ["corral"]

CALLER = """
import sys
from corral.control.spawn import spawn_daemon
from corral.errors import ConfigError, CorralError
try:
    print(spawn_daemon(sys.argv[1], sys.argv[2], up=sys.argv[3] == "up", timeout=20))
except ConfigError as error:
    print("\\n".join(map(str, error.problems)), file=sys.stderr)
    sys.exit(2)
except CorralError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
"""


def spawn(
    corral: Corral,
    up: bool = False,
    env: dict[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", CALLER, str(corral.config), str(corral.socket)]
    return subprocess.run(
        [*argv, "up" if up else "-"],
        env={**corral.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        pass_fds=pass_fds,
    )


def spawned(corral: Corral, up: bool = False, pass_fds: tuple[int, ...] = ()) -> int:
    """The pid of a daemon spawned for ``corral`` (the caller has exited)."""
    done = spawn(corral, up=up, pass_fds=pass_fds)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


SLEEPER = '[[process]]\nname = "web"\ncommand = ["sleep", "60"]\n'


def test_the_daemon_reads_corral_daemon_in_ps_and_has_its_own_session(corral: Corral) -> None:
    corral.write(SLEEPER)
    pid = spawned(corral)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode()
    assert cmdline == f"corral daemon -c {corral.config} --socket {corral.socket}"
    assert cmdline == daemon_title(str(corral.config), str(corral.socket))
    assert Path(f"/proc/{pid}/comm").read_text().strip() == DAEMON_COMM == "corral-daemon"
    assert os.getsid(pid) == pid  # a session leader: the caller's terminal is not its own
    listed = subprocess.run(
        ["ps", "-ww", "-o", "comm=,args=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split(None, 1) == [DAEMON_COMM, cmdline + "\n"]


def test_the_daemon_holds_no_descriptor_of_its_caller(corral: Corral) -> None:
    """A pipe the caller inherited (a shell's `$(corral up)`, a CI log) is not
    kept open by the daemon, so its reader sees the end when the caller exits."""
    corral.write(SLEEPER)
    read_end, write_end = os.pipe()
    try:
        pid = spawned(corral, pass_fds=(write_end,))
        os.close(write_end)
        write_end = -1
        readable, _, _ = select.select([read_end], [], [], 10)
        assert readable and os.read(read_end, 1) == b""  # the end: no writer is left
        pipe = os.readlink(f"/proc/self/fd/{read_end}")
        held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        assert pipe not in held
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_the_daemon_logs_to_its_state_dir_and_reads_nothing(corral: Corral) -> None:
    corral.write(SLEEPER)
    pid = spawned(corral)
    log = corral.state / "daemon.log"
    assert f"pid {pid} serving {corral.socket}" in log.read_text()
    assert os.readlink(f"/proc/{pid}/fd/0") == os.devnull
    assert os.readlink(f"/proc/{pid}/fd/1") == os.readlink(f"/proc/{pid}/fd/2") == str(log)
    assert corral.status()["web"]["state"] == "stopped"  # without up, nothing starts


def test_with_up_the_daemon_starts_the_auto_start_services_itself(corral: Corral) -> None:
    corral.write(
        SLEEPER + '[[process]]\nname = "off"\ncommand = ["sleep", "60"]\n' + "auto_start = false\n"
    )
    spawned(corral, up=True)
    wait_for(lambda: corral.status()["web"]["state"] == "running")
    assert corral.status()["off"]["state"] == "stopped"


def test_a_daemon_that_exits_at_once_is_explained_by_its_log(corral: Corral) -> None:
    corral.write(SLEEPER)
    corral.socket.parent.mkdir(parents=True)
    with open(f"{corral.socket}.lock", "w") as lock:  # as a live daemon holds it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = spawn(corral)
    assert done.returncode == 1
    assert done.stderr == (
        "the daemon exited at once: corral daemon: "
        f"a corral daemon is already running on {corral.socket}\n"
    )
    (corral.state / "daemon.log").unlink()  # no daemon served: nothing for teardown to stop


def test_a_daemon_that_exits_before_its_log_is_explained_by_its_stderr(corral: Corral) -> None:
    corral.write(SLEEPER)
    not_a_directory = corral.tmp / "file"
    not_a_directory.write_text("")
    done = spawn(corral, env={"CORRAL_STATE_DIR": str(not_a_directory / "state")})
    assert done.returncode == 1
    assert done.stderr == (
        "the daemon exited at once: corral daemon: cannot create the state directory "
        f"{not_a_directory / 'state'}: Not a directory\n"
    )


def test_an_invalid_configuration_is_its_problems(corral: Corral) -> None:
    corral.write('[[process]]\nname = "x"\ncommand = []\n')
    done = spawn(corral)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{corral.config}:") and "command" in done.stderr
    assert not corral.answers()
