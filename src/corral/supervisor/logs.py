"""Log files: each service's stdout and stderr, appended, rotated by size.

A ``LogFile`` is created 0640 and appended to; past ``max_bytes`` it is
renamed ``NAME.1`` (older ones shift up to ``NAME.<keep>``, the oldest is
dropped) and a fresh file is opened. ``reopen`` (on SIGHUP) closes and opens
the path again, for external rotation tools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5
MODE = 0o640


@dataclass(frozen=True)
class Rotation:
    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP


class LogFile:
    def __init__(self, path: str, rotation: Rotation) -> None:
        self.path = path
        self.rotation = rotation
        self._fd: int | None = None
        self._size = 0

    def _open(self) -> int:
        if self._fd is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, MODE)
            info = os.fstat(fd)
            if info.st_size == 0:
                os.fchmod(fd, MODE)
            self._fd = fd
            self._size = info.st_size
        return self._fd

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first when it would not fit; lines stay whole
        unless one is longer than ``max_bytes``."""
        while data:
            fd = self._open()
            room = self.rotation.max_bytes - self._size
            if len(data) <= room:
                os.write(fd, data)
                self._size += len(data)
                return
            cut = data.rfind(b"\n", 0, max(room, 0)) + 1
            if cut == 0 and self._size == 0:
                cut = max(room, 1)
            if cut:
                os.write(fd, data[:cut])
                self._size += cut
                data = data[cut:]
            self.rotate()

    def rotate(self) -> None:
        self.close()
        keep = self.rotation.keep
        if keep <= 0:
            os.unlink(self.path)
            return
        for i in range(keep - 1, 0, -1):
            older = f"{self.path}.{i}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{i + 1}")
        if os.path.exists(self.path):
            os.replace(self.path, f"{self.path}.1")

    def reopen(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LogFiles:
    """Every open log, by path, so a service keeps its log across restarts."""

    def __init__(self, rotation: Rotation) -> None:
        self.rotation = rotation
        self._files: dict[str, LogFile] = {}

    def get(self, path: str) -> LogFile:
        log = self._files.get(path)
        if log is None:
            log = self._files[path] = LogFile(path, self.rotation)
        return log

    def reopen_all(self) -> None:
        for log in self._files.values():
            log.reopen()

    def close_all(self) -> None:
        for log in self._files.values():
            log.close()
