"""Units of content: what each input of an ``OciImage`` puts in the image.

A unit is the smallest thing the layering moves around: the rootfs, one
``files`` entry, one program, or one member of a program's ELF closure (a
library shared by several programs is one unit, with a popularity equal to the
number of programs that need it). ``symlinks`` make the final entries.

Inputs are checked here, each whatever the others hold, and every problem
(raised together as ``InputErrors``) names the field: a missing host path, a
destination or symlink that escapes the image root, a symlink loop, a
symlink in a copied tree that points outside it, two inputs that put
different things at one path, a binary for another machine.
A program that is not ELF is packed as a plain file, with a note.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from corral.config.image import OciImage
from corral.errors import ImageError
from corral.image import elf
from corral.image.tarball import Entry, Kind, normal_mode

UnitKind = Literal["rootfs", "files", "program", "library"]
_MAX_HOPS = 40


@dataclass(frozen=True)
class Unit:
    """One unit of content, with the field it came from (``image.files[2]``)."""

    key: str
    field: str
    kind: UnitKind
    entries: tuple[Entry, ...]
    popularity: int = 1

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class Content:
    units: tuple[Unit, ...]
    symlinks: tuple[Entry, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        return sum(u.size for u in self.units)


def image_path(dest: str, what: str) -> str:
    """``/usr/bin/../bin/x`` → ``usr/bin/x``; an escape above ``/`` is an error."""
    parts: list[str] = []
    for comp in dest.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise ImageError(f"{what}: {dest} escapes the image root")
            parts.pop()
        else:
            parts.append(comp)
    return "/".join(parts)


def resolve(path: str, links: Mapping[str, str], *, follow_last: bool) -> str | None:
    """Resolve ``path`` through the image's symlinks (``links``: path → target);
    ``None`` for a loop. ``..`` at the root stays at the root, as the kernel does."""
    todo = [c for c in path.split("/") if c][::-1]
    done: list[str] = []
    hops = 0
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if comp == "..":
            if done:
                done.pop()
            continue
        target = links.get("/".join([*done, comp]))
        if target is not None and (todo or follow_last):
            hops += 1
            if hops > _MAX_HOPS:
                return None
            if target.startswith("/"):
                done = []
            todo.extend([c for c in target.split("/") if c][::-1])
            continue
        done.append(comp)
    return "/".join(done)


def _stat(path: str, what: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ImageError(f"{what}: {path} is a dangling symlink") from None
        raise ImageError(f"{what}: {path} does not exist") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise ImageError(f"{what}: {path} is a symlink loop") from None
        raise ImageError(f"{what}: {path}: {exc.strerror}") from exc


def _kind(st_mode: int) -> Kind | None:
    for test, kind in (
        (stat.S_ISDIR, "dir"),
        (stat.S_ISREG, "file"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISCHR, "char"),
        (stat.S_ISBLK, "block"),
        (stat.S_ISFIFO, "fifo"),
    ):
        if test(st_mode):
            return kind  # type: ignore[return-value]
    return None


def _walk(host_dir: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """``(relative path, host path, lstat)`` below ``host_dir``, sorted by name bytes."""
    try:
        with os.scandir(host_dir) as it:
            names = sorted((e.name for e in it), key=os.fsencode)
    except OSError as exc:
        raise ImageError(f"{host_dir}: cannot be listed: {exc.strerror}") from exc
    for name in names:
        host = os.path.join(host_dir, name)
        st = os.lstat(host)
        yield name, host, st
        if stat.S_ISDIR(st.st_mode):
            for rel, sub, sub_st in _walk(host):
                yield f"{name}/{rel}", sub, sub_st


def _entry(path: str, host: str, st: os.stat_result, kind: Kind, target: str = "") -> Entry:
    mode = normal_mode(kind, st.st_mode)
    if kind == "file":
        return Entry(path, "file", mode, st.st_size, host)
    if kind in ("char", "block"):
        return Entry(path, kind, mode, devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev))
    return Entry(path, kind, mode, target=target)


def _tree(host_root: str, dest: str, what: str, *, rootfs: bool, notes: list[str]) -> list[Entry]:
    """Entries for a host directory copied to ``dest`` (``""`` is the image root)."""
    out: list[Entry] = []
    for rel, host, st in _walk(host_root):
        path = f"{dest}/{rel}" if dest else rel
        kind = _kind(st.st_mode)
        if kind is None:
            notes.append(f"{what}: {host} is a socket; left out")
            continue
        target = ""
        if kind == "symlink":
            target = os.readlink(host)
            if target.startswith("/") and not rootfs:
                inside = os.path.relpath(target, host_root)
                if inside == ".." or inside.startswith("../"):
                    raise ImageError(
                        f"{what}: symlink {host} points outside {host_root} (to {target})"
                    )
                target = "/" + posixpath.normpath(f"{dest}/{inside}" if dest else inside)
            elif not target.startswith("/"):
                joined = posixpath.join(posixpath.dirname(rel), target)
                _inside(joined, host, target, what, host_root)
        out.append(_entry(path, host, st, kind, target))
    return out


def _inside(joined: str, link: str, target: str, what: str, root: str) -> None:
    depth = 0
    for comp in joined.split("/"):
        depth += -1 if comp == ".." else 0 if comp in ("", ".") else 1
        if depth < 0:
            raise ImageError(f"{what}: symlink {link} points outside {root} (to {target})")


def _host(path: str, base_dir: str | None) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) or base_dir is None else os.path.join(base_dir, path)


class InputErrors(ImageError):
    """Every problem found in an image record's inputs at once; ``problems``:
    ``(field, message)`` pairs, the field as ``image.files[2]``."""

    def __init__(self, errors: list[ImageError]) -> None:
        self.problems = [_split(str(e)) for e in errors]
        super().__init__("\n".join(str(e) for e in errors))


def _split(message: str) -> tuple[str, str]:
    """``("image.files[2]", "…")`` from ``"image.files[2]: …"``."""
    head, sep, rest = message.partition(": ")
    if sep and head.startswith("image"):
        return head, rest
    return "image", message


def collect(
    image: OciImage,
    *,
    base_dir: str | None = None,
    ld_so_conf: str = elf.LD_SO_CONF,
) -> Content:
    """Check ``image``'s build inputs and turn them into units (host I/O: stat, list,
    ELF). Each input is checked whatever the others hold: every problem is
    raised at once, as ``InputErrors``."""
    notes: list[str] = []
    units: list[Unit] = []
    errors: list[ImageError] = []
    arch = elf.arch_of(image.target.split("-", 1)[0] if image.target else image.system)
    if image.rootfs is not None:
        try:
            units.append(_rootfs(image.rootfs, base_dir, notes))
        except ImageError as exc:
            errors.append(exc)
    for i, (src, dest) in enumerate(image.files):
        try:
            units.append(_files(i, src, dest, base_dir, notes))
        except ImageError as exc:
            errors.append(exc)
    units += _programs(image, arch, base_dir, ld_so_conf, notes, errors)
    links: list[Entry] = []
    for i, (link, target) in enumerate(image.symlinks):
        try:
            links.append(_symlink(i, link, target))
        except ImageError as exc:
            errors.append(exc)
    if not errors:
        try:
            _check(units, tuple(links))
        except ImageError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return Content(tuple(units), tuple(links), tuple(notes))


def _rootfs(rootfs: str, base_dir: str | None, notes: list[str]) -> Unit:
    root = _host(rootfs, base_dir)
    if not stat.S_ISDIR(_stat(root, "image.rootfs").st_mode):
        raise ImageError(f"image.rootfs: {root} is not a directory")
    entries = _tree(root, "", "image.rootfs", rootfs=True, notes=notes)
    return Unit("rootfs", "image.rootfs", "rootfs", tuple(entries))


def _files(i: int, src: str, dest: str, base_dir: str | None, notes: list[str]) -> Unit:
    what = f"image.files[{i}]"
    path = image_path(dest, what)
    host = _host(src, base_dir)
    st = _stat(host, what)
    if stat.S_ISDIR(st.st_mode):
        entries = [Entry(path, "dir", normal_mode("dir", st.st_mode))] if path else []
        entries += _tree(os.path.realpath(host), path, what, rootfs=False, notes=notes)
    elif stat.S_ISREG(st.st_mode) and path:
        entries = [_entry(path, host, st, "file")]
    else:
        raise ImageError(f"{what}: {host} is not a regular file or directory for {dest}")
    return Unit(f"files:{i}", what, "files", tuple(entries))


def _symlink(i: int, link: str, target: str) -> Entry:
    what = f"image.symlinks[{i}]"
    entry = Entry(image_path(link, what), "symlink", 0o777, target=target)
    if not entry.path:
        raise ImageError(f"{what}: the image root cannot be a symlink")
    if not entry.target.startswith("/"):
        _inside(
            posixpath.join(posixpath.dirname(entry.path), entry.target),
            "/" + entry.path,
            entry.target,
            what,
            "the image root",
        )
    return entry


def _programs(
    image: OciImage,
    arch: str,
    base_dir: str | None,
    ld_so_conf: str,
    notes: list[str],
    errors: list[ImageError],
) -> list[Unit]:
    programs: list[Unit] = []
    libraries: dict[str, tuple[str, str, int]] = {}  # image path → (host, field, count)
    for i, (src, dest) in enumerate(image.programs):
        try:
            programs += _program(i, src, dest, arch, base_dir, ld_so_conf, notes, libraries)
        except ImageError as exc:
            errors.append(exc)
    for key in sorted(libraries, key=os.fsencode):
        host, what, count = libraries[key]
        try:
            st = _stat(host, what)
        except ImageError as exc:
            errors.append(exc)
            continue
        programs.append(
            Unit(f"library:{key}", what, "library", (_entry(key, host, st, "file"),), count)
        )
    return programs


def _program(
    i: int,
    src: str,
    dest: str,
    arch: str,
    base_dir: str | None,
    ld_so_conf: str,
    notes: list[str],
    libraries: dict[str, tuple[str, str, int]],
) -> list[Unit]:
    """Program ``i``'s unit; its ELF closure goes into ``libraries``."""
    what = f"image.programs[{i}]"
    path = image_path(dest, what)
    if not path:
        raise ImageError(f"{what}: {dest} is not a file path")
    host = _host(src, base_dir)
    st = _stat(host, what)
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(f"{what}: {host} is not a regular file")
    unit = Unit(f"program:{path}", what, "program", (_entry(path, host, st, "file"),))
    try:
        info = elf.read_elf(os.path.realpath(host))
    except ImageError as exc:
        raise ImageError(f"{what}: {exc}") from exc
    if info is None:
        notes.append(f"{what}: {host} is not an ELF file; packed as a plain file")
        return [unit]
    elf.check_machine(info, arch, f"{what}: {host}")
    deps = elf.closure(host, "/" + path, info, what=what, arch=arch, ld_so_conf=ld_so_conf)
    for dep in deps:
        key = image_path(dep.image_path, what)
        known = libraries.get(key)
        if known is not None and os.path.realpath(known[0]) != os.path.realpath(dep.host_path):
            raise ImageError(
                f"{what}: /{key} would hold {dep.host_path}, but {known[1]} puts {known[0]} there"
            )
        count = known[2] + 1 if known else 1
        libraries[key] = (dep.host_path, known[1] if known else what, count)
    return [unit]


def _check(units: list[Unit], symlinks: tuple[Entry, ...]) -> None:
    """Conflicting paths between inputs, and symlink loops, are errors."""
    owner: dict[str, tuple[str, str]] = {}
    links: dict[str, str] = {}
    sources: list[tuple[str, str, Entry]] = [(u.field, u.kind, e) for u in units for e in u.entries]
    sources += [(f"image.symlinks[{i}]", "symlinks", e) for i, e in enumerate(symlinks)]
    for what, kind, entry in sources:
        if entry.kind == "symlink":
            links[entry.path] = entry.target
        if kind == "rootfs" or entry.kind == "dir":
            continue
        ident = f"{entry.kind}:{entry.source or entry.target}"
        seen = owner.setdefault(entry.path, (what, ident))
        if seen[1] != ident and seen[0] != what:
            raise ImageError(f"{what}: /{entry.path} is also provided, differently, by {seen[0]}")
    for what, _, entry in sources:
        if entry.kind == "symlink" and resolve(entry.path, links, follow_last=True) is None:
            raise ImageError(f"{what}: /{entry.path} -> {entry.target} is a symlink loop")
