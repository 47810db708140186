"""``corral up`` without a daemon: start one in the background and wait until it serves.

The daemon is the calling process, forked: it starts with the interpreter,
click and corral's CLI already loaded, which is most of a fresh ``corral
daemon``'s start-up (``bench/bench_containers.py`` measures it). The child
detaches (its own session, stdio on ``/dev/null``, no inherited descriptors),
takes the title ``corral daemon -c FILE --socket PATH`` in ``ps``, logs to
``<state_dir>/daemon.log`` and runs :func:`corral.control.daemon.run_daemon`.

Until it logs to its file, the child's stderr is a pipe to the caller: a child
that exits at once is explained by the last line it wrote there, else by the
last line of its log. This module stays light; the child imports the daemon.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from typing import NoReturn

from corral.errors import CorralError, DeadlineError

#: How long the caller waits for the forked daemon to answer.
DAEMON_START_TIMEOUT = 15.0
#: The daemon's ``/proc/PID/comm`` (what ``ps -e`` and ``top`` show; 15 bytes at most).
DAEMON_COMM = "corral-daemon"


def daemon_title(config_path: str, socket_path: str) -> str:
    """The forked daemon's process title (its ``ps`` args)."""
    return shlex.join(["corral", "daemon", "-c", config_path, "--socket", socket_path])


def spawn_daemon(
    config_path: str, socket_path: str, *, up: bool = False, timeout: float = DAEMON_START_TIMEOUT
) -> int:
    """Fork a daemon serving ``config_path`` on ``socket_path``; its pid once it answers.

    With ``up`` it starts the auto_start services as soon as it serves, without
    waiting for a client's request. The configuration is only located here (the
    child validates it); it is loaded here only to explain a child that exited at
    once, so an invalid file raises its ``ConfigError`` (exit 2). A child that
    exits at once raises ``CorralError`` with its last stderr line; one that does
    not answer within ``timeout`` raises ``CorralError`` naming its log."""
    config_path = os.path.abspath(config_path)
    early_r, early_w = os.pipe()  # the child's stderr until it logs to its file
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(early_r)
        _daemon_child(config_path, socket_path, early_w, up)
    os.close(early_w)
    try:
        _wait_until_serving(config_path, socket_path, pid, early_r, timeout)
    finally:
        os.close(early_r)
    return pid


def _daemon_child(config_path: str, socket_path: str, stderr_fd: int, up: bool) -> NoReturn:
    """The forked daemon: detach (session, title, stdio, inherited descriptors), serve, exit."""
    code = 1
    try:
        os.setsid()
        _retitle(daemon_title(config_path, socket_path))
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(stderr_fd, 2)
        # What the caller let this CLI inherit (pipes, locks) is not the daemon's.
        os.closerange(3, _max_fd())
        _serve(config_path, socket_path, up)
        code = 0
    except CorralError as error:
        print(f"corral daemon: {error}", file=sys.stderr)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _retitle(title: str) -> None:
    """``title`` as the process's args; ``DAEMON_COMM`` as its name.

    setproctitle (imported here only: the caller never pays for it) rewrites
    the argv area, so ``ps``, ``/proc/PID/cmdline`` and ``pgrep -f`` see the
    title; it also sets the name to the title's first 15 bytes (``corral daemon
    -``), so the name is written after it."""
    import setproctitle

    setproctitle.setproctitle(title)
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write(DAEMON_COMM)


def _serve(config_path: str, socket_path: str, up: bool) -> None:
    from corral.config import load
    from corral.control.daemon import run_daemon
    from corral.supervisor.logs import DEFAULT_KEEP, DEFAULT_MAX_BYTES, Rotation

    config = load(config_path).config
    _log_to(_daemon_log(config.state_dir))
    run_daemon(config, socket_path, Rotation(DEFAULT_MAX_BYTES, DEFAULT_KEEP), up=up)


def _daemon_log(configured: str | None) -> str:
    """``<state_dir>/daemon.log``, its directory made."""
    from corral.paths import daemon_log, state_dir
    from corral.privacy import private_dir

    return daemon_log(private_dir(state_dir(configured), "state directory"))


def _log_to(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o640)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _max_fd() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if 0 < soft < 1 << 20 else 1 << 16


def _wait_until_serving(
    config_path: str, socket_path: str, pid: int, early_r: int, timeout: float
) -> None:
    from corral.control.client import answers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(socket_path):
            return
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            state = _configured_state_dir(config_path)  # an invalid file is reported as such
            early = _read_all(early_r).strip()
            last = early.splitlines()[-1] if early else _last_line(_daemon_log(state))
            raise CorralError(f"the daemon exited at once: {last}")
        time.sleep(0.01)
    log_path = _daemon_log(_configured_state_dir(config_path))
    raise DeadlineError(f"the daemon did not answer within {timeout:g} s; see {log_path}")


def _configured_state_dir(config_path: str) -> str | None:
    from corral.config import load

    return load(config_path).config.state_dir


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as file:
            lines = [line.strip() for line in file if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"
