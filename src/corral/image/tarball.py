"""Deterministic tar streams.

Every entry has one fixed mtime (``SOURCE_DATE_EPOCH`` when set, validated
strictly, else 1), uid/gid 0 with empty owner names, a normalised mode, no
extended attributes, and no hard links (each path gets its own copy of the
bytes). Entries are written in the order given; callers sort them. File bytes
are streamed in 1 MiB chunks to a sink, never held whole in memory; a file
whose size changed since it was listed is an error, so the size announced in
its header is always the size written.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from corral.errors import ImageError

BLOCK = 512
#: What ends a tar: two zero blocks.
END = bytes(2 * BLOCK)
CHUNK = 1 << 20
DEFAULT_EPOCH = 1
_MAX_MTIME = 8**11 - 1  # what a ustar header holds without extensions

Kind = Literal["dir", "file", "symlink", "char", "block", "fifo"]
Sink = Callable[[bytes | memoryview], object]
Progress = Callable[[int], object]
#: Told ``(source, os.fstat of the open file)`` for each file read.
Opened = Callable[[str, os.stat_result], object]

_TYPES: dict[str, bytes] = {
    "dir": tarfile.DIRTYPE,
    "file": tarfile.REGTYPE,
    "symlink": tarfile.SYMTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


@dataclass(frozen=True)
class Entry:
    """One member of a layer. ``path`` is relative to the image root (``usr/bin/x``)."""

    path: str
    kind: Kind
    mode: int
    size: int = 0
    source: str | None = None
    target: str = ""
    devmajor: int = 0
    devminor: int = 0


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int:
    """The fixed mtime: ``SOURCE_DATE_EPOCH`` (decimal digits only), else 1."""
    env = os.environ if environ is None else environ
    raw = env.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return DEFAULT_EPOCH
    if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_MTIME:
        raise ImageError(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds between 0 and {_MAX_MTIME}, "
            f"but {raw!r} was found"
        )
    return int(raw)


def normal_mode(kind: Kind, st_mode: int) -> int:
    """Modes that don't depend on the umask: 0755/0644 by owner exec bit, keeping
    setuid/setgid on files and the sticky bit on directories."""
    if kind == "dir":
        return 0o1777 if st_mode & stat.S_ISVTX else 0o755
    if kind == "symlink":
        return 0o777
    if kind == "file":
        base = 0o755 if st_mode & stat.S_IXUSR else 0o644
        return base | (st_mode & (stat.S_ISUID | stat.S_ISGID))
    return 0o644


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


_USTAR_TYPES = {kind: flag for kind, flag in _TYPES.items()}
_MAX_OCTAL_SIZE = 8**11 - 1


def _ustar(name: bytes, kind: Kind, entry: Entry, mtime: int) -> bytes:
    """A plain ustar header (what tarfile writes when no PAX record is needed)."""
    size = entry.size if kind == "file" else 0
    fields = [
        name.ljust(100, b"\0"),
        _octal(entry.mode, 8),
        _octal(0, 8),
        _octal(0, 8),
        _octal(size, 12),
        _octal(mtime, 12),
        b"        ",
        _USTAR_TYPES[kind],
        entry.target.encode().ljust(100, b"\0"),
        b"ustar\x0000",
        bytes(64),
        _octal(entry.devmajor, 8) if kind in ("char", "block") else bytes(8),
        _octal(entry.devminor, 8) if kind in ("char", "block") else bytes(8),
        bytes(167),
    ]
    buf = b"".join(fields)
    checksum = b"%06o\0" % sum(buf)
    return buf[:148] + checksum + buf[155:]


def header(entry: Entry, mtime: int) -> bytes:
    """The header of ``entry``: plain ustar when it fits, else PAX records (via tarfile)."""
    name = entry.path + ("/" if entry.kind == "dir" else "")
    if (
        len(name) < 100
        and len(entry.target) < 100
        and name.isascii()
        and entry.target.isascii()
        and entry.size <= _MAX_OCTAL_SIZE
        and entry.devmajor < 8**7
        and entry.devminor < 8**7
    ):
        return _ustar(name.encode(), entry.kind, entry, mtime)
    info = tarfile.TarInfo(name)
    info.type = _TYPES[entry.kind]
    info.mode = entry.mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.size = entry.size if entry.kind == "file" else 0
    info.linkname = entry.target
    info.devmajor, info.devminor = entry.devmajor, entry.devminor
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> int:
    return -size % BLOCK


def headers(entries: Sequence[Entry], mtime: int) -> list[bytes]:
    return [header(entry, mtime) for entry in entries]


def tar_size(entries: Sequence[Entry], mtime: int, heads: Sequence[bytes] | None = None) -> int:
    """The exact byte size ``write_tar`` will produce for ``entries``."""
    heads = headers(entries, mtime) if heads is None else heads
    total = 2 * BLOCK + sum(len(h) for h in heads)
    for entry in entries:
        if entry.kind == "file":
            total += entry.size + padding(entry.size)
    return total


def _read(fh: io.FileIO, view: memoryview, source: str) -> int:
    try:
        return fh.readinto(view) or 0
    except OSError as exc:
        raise ImageError(f"{source}: cannot be read: {exc.strerror}") from exc


def _copy(
    entry: Entry,
    sink: Sink,
    buffer: bytearray,
    progress: Progress | None,
    opened: Opened | None,
) -> None:
    """Stream one file's bytes into ``sink``. Only reading errors become ``ImageError``:
    the sink's own (a closed pipe) pass through as they are."""
    assert entry.source is not None
    view = memoryview(buffer)
    written = 0
    try:
        fh = open(entry.source, "rb", buffering=0)  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise ImageError(f"{entry.source}: cannot be read: {exc.strerror}") from exc
    with fh:
        if opened is not None:
            opened(entry.source, os.fstat(fh.fileno()))
        while written < entry.size:
            n = _read(fh, view[: min(CHUNK, entry.size - written)], entry.source)
            if not n:
                break
            sink(view[:n])
            written += n
            if progress is not None:
                progress(n)
        grew = _read(fh, view[:1], entry.source)
    if written != entry.size or grew:
        raise ImageError(f"{entry.source}: changed size while the image was being written")


def write_tar(
    entries: Sequence[Entry],
    mtime: int,
    sink: Sink,
    progress: Progress | None = None,
    heads: Sequence[bytes] | None = None,
    opened: Opened | None = None,
    end: bool = True,
) -> None:
    """Stream a tar of ``entries`` (with their precomputed ``heads``) into ``sink``;
    ``opened`` is told each source file's status as it is opened. Without ``end``,
    the end-of-archive blocks (``END``) are left to the caller."""
    buffer = bytearray(CHUNK)
    heads = headers(entries, mtime) if heads is None else heads
    for entry, head in zip(entries, heads, strict=True):
        sink(head)
        if entry.kind == "file":
            _copy(entry, sink, buffer, progress, opened)
            pad = padding(entry.size)
            if pad:
                sink(bytes(pad))
    if end:
        sink(END)
