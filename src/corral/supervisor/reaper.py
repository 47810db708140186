"""The daemon's reaper: the one place that waits for child processes.

The daemon makes itself a child subreaper, so grandchildren orphaned by a
dying service are re-parented to it; on SIGCHLD every exited child is reaped,
and the exit status handed to whoever watches that pid. Nothing else in the
daemon may call ``waitpid`` (asyncio's subprocess support is not used).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(on: bool = True) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class Reaper:
    def __init__(self) -> None:
        self._watched: dict[int, asyncio.Future[int]] = {}
        self._popen: dict[int, subprocess.Popen[bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        become_subreaper()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        self.reap()

    def uninstall(self) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGCHLD)
            become_subreaper(False)

    def watch(self, process: subprocess.Popen[bytes]) -> asyncio.Future[int]:
        """A future of ``process``'s exit code (negative: killed by that signal).

        Call this right after spawning, before any ``await``: the SIGCHLD
        handler runs in the event loop, so it cannot reap the child first."""
        assert self._loop is not None, "Reaper.install() was not called"
        future: asyncio.Future[int] = self._loop.create_future()
        self._watched[process.pid] = future
        self._popen[process.pid] = process
        return future

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            process = self._popen.pop(pid, None)
            if process is not None:
                process.returncode = code
            future = self._watched.pop(pid, None)
            if future is not None and not future.done():
                future.set_result(code)
