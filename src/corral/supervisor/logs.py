"""Log files: each service's stdout and stderr, appended, rotated by size.

A ``LogFile`` is created 0640 and appended to; past ``max_bytes`` it is
renamed ``NAME.1`` (older ones shift up to ``NAME.<keep>``, the oldest is
dropped) and a fresh file is opened. ``reopen`` (on SIGHUP) closes and opens
the path again, for external rotation tools.

A write that fails (a full disk, a quota, a vanished directory) never raises:
the output is dropped and counted (``drops``: how much, since when, why), the
episode is said once through ``notice`` (the daemon's log), and each later
write first tries a line saying what was dropped — when that line is
written, the log goes on and the episode is over, so a gap is never silent.
``DaemonStream`` does the same for the daemon's own stdout and stderr.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5
MODE = 0o640

Notice = Callable[[str], None]


@dataclass(frozen=True)
class Rotation:
    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP


@dataclass
class Drops:
    """One episode of output that could not be written."""

    bytes: int
    since: float  # seconds since the epoch
    error: str

    def __str__(self) -> str:
        return f"{human_bytes(self.bytes)} dropped since {_when(self.since)} ({self.error})"

    def view(self) -> dict[str, object]:
        return {"dropped_bytes": self.bytes, "since": self.since, "error": self.error}


def human_bytes(count: int) -> str:
    """``1.2 MB``, ``300 B`` (decimal units)."""
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


class _Failed(Exception):
    """A write failed after ``written`` bytes of the data were written."""

    def __init__(self, error: OSError, written: int) -> None:
        self.error = error
        self.written = written


class LogFile:
    def __init__(self, path: str, rotation: Rotation, notice: Notice | None = None) -> None:
        self.path = path
        self.rotation = rotation
        self.notice = notice
        self.drops: Drops | None = None
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
        unless one is longer than ``max_bytes``. Never raises: what cannot be
        written is counted in ``drops``."""
        if not data:
            return
        if self.drops is not None and not self._resume():
            self.drops.bytes += len(data)
            return
        try:
            self._append(data)
        except _Failed as failed:
            self._dropping(failed.error, len(data) - failed.written)

    def _append(self, data: bytes) -> None:
        written = 0
        try:
            while data:
                fd = self._open()
                room = self.rotation.max_bytes - self._size
                if len(data) <= room:
                    written += self._write_all(fd, data)
                    return
                cut = data.rfind(b"\n", 0, max(room, 0)) + 1
                if cut == 0 and self._size == 0:
                    cut = max(room, 1)
                if cut:
                    written += self._write_all(fd, data[:cut])
                    data = data[cut:]
                self.rotate()
        except _Failed as failed:
            raise _Failed(failed.error, written + failed.written) from None
        except OSError as error:
            raise _Failed(error, written) from None

    def _write_all(self, fd: int, data: bytes) -> int:
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
        except OSError as error:
            raise _Failed(error, done) from None
        finally:
            self._size += done
        return done

    def _dropping(self, error: OSError, count: int) -> None:
        self.drops = Drops(count, time.time(), error.strerror or str(error))
        self._say(f"log {self.path}: cannot write ({self.drops.error}); dropping output")

    def _resume(self) -> bool:
        """Try the line that closes a drop episode; whether the log goes on."""
        assert self.drops is not None
        line = f"corral: {self.drops}\n".encode()
        try:
            self._append(line)
        except _Failed:
            return False
        self._say(f"log {self.path}: writing again; {self.drops}")
        self.drops = None
        return True

    def _say(self, text: str) -> None:
        if self.notice is not None:
            self.notice(text)

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
        try:
            self._open()
        except OSError as error:
            if self.drops is None:
                self._dropping(error, 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LogFiles:
    """Every open log, by path, so a service keeps its log across restarts."""

    def __init__(self, rotation: Rotation, notice: Notice | None = None) -> None:
        self.rotation = rotation
        self.notice = notice
        self._files: dict[str, LogFile] = {}

    def get(self, path: str) -> LogFile:
        log = self._files.get(path)
        if log is None:
            log = self._files[path] = LogFile(path, self.rotation, self.notice)
        return log

    def drops(self, path: str) -> Drops | None:
        """The drop episode under way in log ``path``, if any."""
        log = self._files.get(path)
        return log.drops if log is not None else None

    def reopen_all(self) -> None:
        for log in self._files.values():
            log.reopen()

    def close_all(self) -> None:
        for log in self._files.values():
            log.close()


class DaemonStream(io.TextIOBase):
    """The daemon's own stdout/stderr on descriptor ``fd``, unbuffered, that never
    raises: a line it cannot write is counted, and the next line it can write
    is preceded by one saying how much was dropped since when."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.drops: Drops | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, text: str) -> int:
        data = text.encode(errors="replace")
        if self.drops is not None:
            if not self._put(f"corral daemon: its log: {self.drops}\n".encode()):
                self.drops.bytes += len(data)
                return len(text)
            self.drops = None
        self._put(data, count=True)
        return len(text)

    def _put(self, data: bytes, count: bool = False) -> bool:
        done = 0
        try:
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except OSError as error:
            if count:
                self.drops = Drops(len(data) - done, time.time(), error.strerror or str(error))
            return False
        return True

    def flush(self) -> None:
        pass
