"""Leave nothing behind: stop a daemon and every process under it, whatever happens.

A bench records what it measured as it goes and calls ``stop_tree`` in a
``finally``; ``stop_tree`` asks nicely (a command or SIGTERM), waits a bounded
time, then SIGKILLs the daemon and each descendant it had (programs that
moved to their own process group or session included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children…), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                parents[int(entry)] = int(file.read().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def stop_tree(
    pid: int,
    ask: Callable[[], object] | None = None,
    grace: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
) -> list[str]:
    """Stop daemon ``pid`` and everything under it: ``ask()`` (default SIGTERM),
    up to ``grace`` seconds, then SIGKILL to whatever is left. What had to be
    killed, as lines to print (empty when the polite way worked)."""
    tree = descendants(pid) | {pid}
    said: list[str] = []
    try:
        if ask is not None:
            ask()
        else:
            os.kill(pid, signal.SIGTERM)
    except (OSError, subprocess.SubprocessError) as error:
        said.append(f"asking {pid} to stop failed: {error}")
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in tree):
        if process is not None:
            process.poll()
        time.sleep(0.1)
    left = sorted(p for p in tree if alive(p))
    if left:
        said.append(f"killed {len(left)} process(es) still there after {grace:g} s")
        for p in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
    return said


def daemon_pid(state_dir: str) -> int | None:
    """The pid of the corral daemon that logged to ``state_dir``'s daemon.log last."""
    try:
        with open(os.path.join(state_dir, "daemon.log"), errors="replace") as file:
            lines = [line for line in file if " serving " in line and " pid " in line]
    except OSError:
        return None
    return int(lines[-1].split(" pid ", 1)[1].split()[0]) if lines else None


def corral_down(argv: list[str], env: dict[str, str], state_dir: str) -> list[str]:
    """``corral … down`` (``argv`` is the command up to ``down``), bounded; a
    daemon that does not go is killed with everything under it."""
    pid = daemon_pid(state_dir)

    def down() -> None:
        subprocess.run([*argv, "down"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=300)  # fmt: skip

    if pid is None or not alive(pid):
        with contextlib.suppress(subprocess.SubprocessError):
            down()
        return []
    return stop_tree(pid, down, grace=60)
