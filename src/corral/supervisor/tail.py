"""Reading a log: the last lines, then follow it across restarts and rotation."""

from __future__ import annotations

import os
import time
from typing import BinaryIO

POLL = 0.1


def tail(path: str, lines: int, out: BinaryIO) -> int:
    """Write the last ``lines`` lines of ``path``; the offset reached."""
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            end = file.tell()
            block, data = 8192, b""
            while end > 0 and data.count(b"\n") <= lines:
                start = max(0, end - block)
                file.seek(start)
                data = file.read(end - start) + data
                end = start
            size = file.seek(0, os.SEEK_END)
    except FileNotFoundError:
        return 0
    kept = data.splitlines(keepends=True)[-lines:] if lines > 0 else []
    out.write(b"".join(kept))
    out.flush()
    return size


def follow_file(path: str, position: int, out: BinaryIO, poll: float = POLL) -> None:
    """Print what is appended to ``path``, across restarts and rotation: when the
    file is rotated, the old one is read to its end, then the files rotated
    after it (oldest first), then the new one."""
    handle = _open_at(path, position)
    while True:
        data = handle.read() if handle is not None else b""
        if data:
            out.write(data)
            out.flush()
            continue
        current = _inode(path)
        if handle is None:
            handle = _open_at(path, 0)
        elif current is not None and current != os.fstat(handle.fileno()).st_ino:
            old = os.fstat(handle.fileno()).st_ino
            handle.close()
            for name in _rotated_after(path, old):
                with open(name, "rb") as rotated:
                    out.write(rotated.read())
            handle = _open_at(path, 0)
            continue
        elif current is not None and os.stat(path).st_size < handle.tell():
            handle.seek(0)  # truncated
            continue
        time.sleep(poll)


def _open_at(path: str, position: int) -> BinaryIO | None:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - kept open while following
    except FileNotFoundError:
        return None
    handle.seek(position)
    return handle


def _rotated_after(path: str, inode: int, most: int = 100) -> list[str]:
    """``path.K-1`` … ``path.1`` when the file we read is now ``path.K``."""
    for k in range(1, most):
        found = _inode(f"{path}.{k}")
        if found is None:
            return []
        if found == inode:
            return [f"{path}.{j}" for j in range(k - 1, 0, -1)]
    return []


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None
