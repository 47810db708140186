"""The shared-library closure of an ELF program, found by reading ELF, never by running ``ldd``.

The search follows glibc's dynamic loader: a ``DT_NEEDED`` name with a slash is
a path; otherwise ``DT_RPATH`` of the object and then of its loaders (only
when the object has no ``DT_RUNPATH``), ``DT_RUNPATH`` of the object, the
directories of ``/etc/ld.so.conf`` (with its ``include`` globs), and the
default directories. ``$ORIGIN`` is the directory holding the object. A
candidate is taken only when its ELF class, byte order and machine match the
program's, as the loader does.

Each library is placed in the image at the path where it was found (``$ORIGIN``
paths are computed from where the loading object sits *in the image*), with
the content of the file that path resolves to on the host.
"""

from __future__ import annotations

import glob
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from corral.errors import ImageError

#: ``system`` architecture → (ELF e_machine, ELF class, Debian multiarch triplet).
MACHINES: dict[str, tuple[str, int, str]] = {
    "x86_64": ("EM_X86_64", 64, "x86_64-linux-gnu"),
    "i686": ("EM_386", 32, "i386-linux-gnu"),
    "aarch64": ("EM_AARCH64", 64, "aarch64-linux-gnu"),
    "armhf": ("EM_ARM", 32, "arm-linux-gnueabihf"),
    "powerpc64le": ("EM_PPC64", 64, "powerpc64le-linux-gnu"),
    "riscv64": ("EM_RISCV", 64, "riscv64-linux-gnu"),
    "s390x": ("EM_S390", 64, "s390x-linux-gnu"),
    "mips64el": ("EM_MIPS", 64, "mips64el-linux-gnuabi64"),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "armv7l": "armhf"}
LD_SO_CONF = "/etc/ld.so.conf"
_MAX_CONF_DEPTH = 8


def host_arch() -> str:
    machine = platform.machine()
    return _ALIASES.get(machine, machine)


def arch_of(system: str | None) -> str:
    """``x86_64-linux`` → ``x86_64``; ``None`` → the host's architecture."""
    if system is None:
        return host_arch()
    arch = system.split("-", 1)[0]
    return _ALIASES.get(arch, arch)


@dataclass(frozen=True)
class ElfInfo:
    """What the loader needs to know about one ELF object."""

    machine: str
    elfclass: int
    little_endian: bool
    interpreter: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]

    def compatible(self, other: ElfInfo) -> bool:
        return (self.machine, self.elfclass, self.little_endian) == (
            other.machine,
            other.elfclass,
            other.little_endian,
        )


@dataclass(frozen=True)
class Dependency:
    """One member of a closure: where it goes in the image and what it holds."""

    image_path: str
    host_path: str
    needed_by: str


def _split(value: object) -> list[str]:
    return [p for p in str(value).split(":") if p]


def read_elf(path: str) -> ElfInfo | None:
    """Parse ``path``; ``None`` when it is not an ELF file."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return None
            fh.seek(0)
            elf = ELFFile(fh)
            interpreter: str | None = None
            needed: list[str] = []
            rpath: list[str] = []
            runpath: list[str] = []
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_INTERP":
                    interpreter = str(segment.get_interp_name())  # type: ignore[attr-defined]
            for section in elf.iter_sections():
                if not isinstance(section, DynamicSection):
                    continue
                for tag in section.iter_tags():
                    kind = tag.entry.d_tag
                    if kind == "DT_NEEDED":
                        needed.append(str(tag.needed))  # type: ignore[attr-defined]
                    elif kind == "DT_RPATH":
                        rpath.extend(_split(tag.rpath))  # type: ignore[attr-defined]
                    elif kind == "DT_RUNPATH":
                        runpath.extend(_split(tag.runpath))  # type: ignore[attr-defined]
            return ElfInfo(
                machine=str(elf["e_machine"]),
                elfclass=int(elf.elfclass),
                little_endian=bool(elf.little_endian),
                interpreter=interpreter,
                needed=tuple(needed),
                rpath=tuple(rpath),
                runpath=tuple(runpath),
            )
    except (ELFError, ValueError, OSError, KeyError) as exc:
        raise ImageError(f"{path}: not a readable ELF file: {exc}") from exc


def ld_so_conf_dirs(path: str = LD_SO_CONF, _depth: int = 0) -> list[str]:
    """The directories ``path`` lists, ``include`` globs expanded in sorted order."""
    if _depth > _MAX_CONF_DEPTH:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    out: list[str] = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("hwcap"):
            continue
        if line.startswith("include") and line[7:8].isspace():
            for pattern in line[8:].split():
                if not os.path.isabs(pattern):
                    pattern = os.path.join(os.path.dirname(path), pattern)
                for included in sorted(glob.glob(pattern)):
                    out.extend(ld_so_conf_dirs(included, _depth + 1))
        else:
            out.extend(d for d in line.replace(",", " ").split() if d.startswith("/"))
    return list(dict.fromkeys(out))


def default_dirs(arch: str, elfclass: int) -> list[str]:
    """The loader's built-in directories for ``arch`` (multiarch first, as Debian's glibc)."""
    triplet = MACHINES.get(arch, ("", 0, ""))[2]
    dirs = [f"/lib/{triplet}", f"/usr/lib/{triplet}"] if triplet else []
    if elfclass == 64:
        dirs += ["/lib64", "/usr/lib64"]
    return [*dirs, "/lib", "/usr/lib"]


def check_machine(info: ElfInfo, arch: str, what: str) -> None:
    """Raise unless ``info`` is a binary for ``arch``."""
    expected = MACHINES.get(arch)
    if expected is None:
        raise ImageError(f"{what}: unknown system architecture {arch!r}")
    if (info.machine, info.elfclass) != expected[:2]:
        raise ImageError(
            f"{what} is a {info.elfclass}-bit {info.machine} binary, not one for {arch}"
        )


def _expand(entry: str, origin: str) -> str:
    for token in ("$ORIGIN", "${ORIGIN}"):
        entry = entry.replace(token, origin)
    return entry


class _Resolver:
    def __init__(self, root: ElfInfo, search: Sequence[str]) -> None:
        self.root = root
        self.search = search
        self._info: dict[str, ElfInfo | None] = {}

    def info(self, host_path: str) -> ElfInfo | None:
        real = os.path.realpath(host_path)
        if real not in self._info:
            self._info[real] = read_elf(real) if os.path.isfile(real) else None
        return self._info[real]

    def find(self, name: str, dirs: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
        """First ``(host dir, image dir)`` holding a compatible ``name``."""
        for host_dir, image_dir in dirs:
            candidate = os.path.join(host_dir, name)
            info = self.info(candidate)
            if info is not None and info.compatible(self.root):
                return candidate, os.path.join(image_dir, name)
        return None


def closure(
    program: str,
    image_path: str,
    info: ElfInfo,
    *,
    what: str,
    arch: str,
    ld_so_conf: str = LD_SO_CONF,
) -> list[Dependency]:
    """The interpreter and every library ``program`` (at ``image_path``) loads, in BFS order.

    Raises ``ImageError`` naming ``what`` when a needed library cannot be found.
    """
    search = [*ld_so_conf_dirs(ld_so_conf), *default_dirs(arch, info.elfclass)]
    resolver = _Resolver(info, search)
    out: dict[str, Dependency] = {}
    if info.interpreter is not None:
        interp = info.interpreter
        if not os.path.exists(interp):
            raise ImageError(f"{what}: the ELF interpreter {interp} of {program} does not exist")
        out[interp] = Dependency(interp, interp, program)
    # (host path, image path, info, inherited rpath dirs as (host dir, image dir))
    queue: list[tuple[str, str, ElfInfo, list[tuple[str, str]]]] = [(program, image_path, info, [])]
    seen = {image_path}
    # The loader matches DT_NEEDED names against objects already loaded (the
    # interpreter included) before it searches.
    loaded: set[str] = {os.path.basename(info.interpreter)} if info.interpreter else set()
    while queue:
        host, image, obj, inherited = queue.pop(0)
        host_origin, image_origin = os.path.dirname(host), os.path.dirname(image)

        def pairs(
            entries: Sequence[str], ho: str = host_origin, io: str = image_origin
        ) -> list[tuple[str, str]]:
            return [
                (os.path.normpath(_expand(e, ho)), os.path.normpath(_expand(e, io)))
                for e in entries
            ]

        own_rpath = pairs(obj.rpath)
        rpath_dirs = [] if obj.runpath else [*own_rpath, *inherited]
        dirs = [*rpath_dirs, *pairs(obj.runpath), *((d, d) for d in search)]
        for name in obj.needed:
            if name in loaded:
                continue
            loaded.add(name)
            if "/" in name:
                host_lib = _expand(name, host_origin)
                found: tuple[str, str] | None = (
                    (host_lib, _expand(name, image_origin)) if os.path.exists(host_lib) else None
                )
            else:
                found = resolver.find(name, dirs)
            if found is None:
                raise ImageError(
                    f"{what}: {host} needs {name}, which was not found "
                    f"(searched RPATH/RUNPATH, {ld_so_conf} and the default directories)"
                )
            host_lib, image_lib = found
            if image_lib in seen or image_lib in out:
                continue
            seen.add(image_lib)
            lib_info = resolver.info(host_lib)
            out[image_lib] = Dependency(image_lib, host_lib, host)
            if lib_info is not None:
                queue.append((host_lib, image_lib, lib_info, [*own_rpath, *inherited]))
    return list(out.values())
