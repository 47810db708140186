"""``corral logs`` of a container whose log stays with the engine (no
``log_file``): the engine CLI's ``logs``, streamed straight to the terminal,
and with ``follow`` carried across restarts — when a container ends, the
next one of the same name is followed from where the last left off.

This runs in the client, not the daemon: the output streams through, so it
is not captured by ``run_cli``.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime

#: Seconds between looks for the next container of a service while following.
POLL = 0.5


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _exists(runtime: str, name: str) -> bool:
    probe = subprocess.run(
        [runtime, "container", "inspect", name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return probe.returncode == 0


def show_engine_log(runtime: str, name: str, lines: int, follow: bool) -> int:
    """Print the last ``lines`` of the container's log; with ``follow``, keep
    printing across restarts until interrupted. The CLI's exit status."""
    argv = [runtime, "logs", "--tail", str(lines), name]
    if not follow:
        return subprocess.run(argv, check=False).returncode
    argv.insert(2, "--follow")
    while True:
        if _exists(runtime, name):
            subprocess.run(argv, check=False)
            argv = [runtime, "logs", "--follow", "--since", _now(), name]
        time.sleep(POLL)
