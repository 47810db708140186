"""A Dockerfile build's context: what is sent, its content digest, and its tar.

The files sent are the context's, less what ``.dockerignore`` excludes
(``image.dockerignore``). Whether a build can be skipped hangs on their
*content*: a digest of every path, kind, mode, link target and file bytes,
with the Dockerfile's name, the build args, target, labels and pull. Reading
every byte at each start would cost what the skip saves, so the content digest
is remembered in the digest cache (``image.digests``) under a key made of the
paths and their stamps (inode, size, mtime and ctime in ns, as the layer
digests are): an untouched context has its digest without a byte read; a
touched file that kept its bytes gives the same digest (so no rebuild).

The tar is written as the docker CLI writes one: paths relative to the
context, owner and group 0 (its ``ChownOpts``), in the walk's order.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from corral.config.image import DockerBuild
from corral.errors import ImageError
from corral.image.archive import stamp
from corral.image.digests import DigestCache
from corral.image.dockerignore import PatternError, context_files


@dataclass(frozen=True)
class Context:
    """The files a build sends, and the digest that decides whether it runs."""

    root: str
    files: tuple[str, ...]
    #: the files' content and the build's parameters (see the module's doc)
    digest: str


def _parameters(build: DockerBuild) -> bytes:
    """What of a build, beside its files, makes another image."""
    said = {
        "dockerfile": build.dockerfile,
        "args": sorted(build.args.items()),
        "target": build.target,
        "labels": sorted(build.labels.items()),
        "pull": build.pull,
    }
    return json.dumps(said, sort_keys=True).encode()


def _describe(root: str, path: str, info: os.stat_result) -> bytes:
    kind = "d" if stat.S_ISDIR(info.st_mode) else "l" if stat.S_ISLNK(info.st_mode) else "f"
    target = os.readlink(os.path.join(root, path)) if kind == "l" else ""
    return f"{path}\0{kind}\0{stat.S_IMODE(info.st_mode):o}\0{target}\0".encode()


def read_context(build: DockerBuild, cache: DigestCache | None) -> Context:
    """The context of ``build`` (its ``context`` absolute): its files and their
    digest, from the cache when every stamp is as it was. ``ImageError`` when the
    context or its ``.dockerignore`` cannot be read."""
    root = build.context
    try:
        files = tuple(context_files(root, build.dockerfile))
    except (PatternError, OSError) as error:
        raise ImageError(f"{root}/.dockerignore: {error}") from None
    stamps = hashlib.sha256(b"corral build context stamps v1\n" + _parameters(build))
    infos: list[os.stat_result] = []
    for path in files:
        try:
            info = os.lstat(os.path.join(root, path))
        except OSError as error:
            raise ImageError(f"build context {root}: {path}: {error.strerror}") from None
        infos.append(info)
        stamps.update(_describe(root, path, info) + f"{stamp(info)}\n".encode())
    key = stamps.hexdigest()
    known = cache.recall(key) if cache is not None else None
    if known is not None:
        return Context(root, files, known)
    content = hashlib.sha256(b"corral build context v1\n" + _parameters(build))
    for path, info in zip(files, infos, strict=True):
        content.update(_describe(root, path, info))
        if stat.S_ISREG(info.st_mode):
            try:
                with open(os.path.join(root, path), "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        content.update(block)
            except OSError as error:
                raise ImageError(f"build context {root}: {path}: {error.strerror}") from None
        content.update(b"\n")
    digest = "sha256:" + content.hexdigest()
    if cache is not None:
        cache.keep(key, digest)
    return Context(root, files, digest)


def write_context(context: Context, fh: BinaryIO) -> None:
    """The tar of ``context``'s files into ``fh``, streamed (no seeking)."""
    with tarfile.open(fileobj=fh, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path in context.files:
            full = os.path.join(context.root, path)
            info = tar.gettarinfo(full, arcname=path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(full, "rb") as source:
                    tar.addfile(info, source)
            else:
                tar.addfile(info)
