"""One archive that is both a docker-archive and an OCI image layout.

The archive is a tar holding, in this order::

    oci-layout                       {"imageLayoutVersion": "1.0.0"}
    blobs/, blobs/sha256/            directories
    blobs/sha256/<layer digests>     uncompressed layer tars
    blobs/sha256/<config digest>     the image config
    blobs/sha256/<manifest digest>   the OCI manifest
    index.json                       OCI index, the reference in its annotations
    manifest.json                    docker-archive manifest with RepoTags

``docker load`` reads ``manifest.json``; ``podman load`` and other OCI tools
read ``index.json``; both find the same blobs. The JSON documents are
canonical (sorted keys, no spaces) and depend only on the image and the
layer digests (``documents``), so the same layers and config give the same
bytes and the same image ID.

One function (``_emit``) writes the members in that order, one streaming
pass; the two ways of writing differ only in how a layer's header learns its
digest, since each layer's size is known beforehand from its entries:

* ``write_archive`` (a file): the header is written with a placeholder name,
  the layer streams through SHA-256 into the file, and the header is then
  rewritten with the digest (same length). The files are read once.
* ``stream_archive`` (a pipe, e.g. ``docker load``'s standard input): the
  digests come from a hash-only pass first (``layer_digests``), so each final
  header is written at once and nothing seeks. The layers are not hashed
  again: that pass recorded each source file's stamp (inode, size, mtime and
  ctime, in ns; no write leaves all four as they were), and a layer whose
  files' stamps changed since is an ``ImageError`` before ``manifest.json``,
  the last member, is written: a truncated archive cannot be loaded. The
  engine checks every layer's digest as it loads it, besides.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import tarfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from corral.config.image import OciImage
from corral.errors import ImageError
from corral.image import elf
from corral.image.layers import Layer
from corral.image.tarball import END, Opened, Progress, headers, padding, tar_size, write_tar

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
_GOARCH = {
    "x86_64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "i686": ("386", None),
    "armhf": ("arm", "v7"),
    "powerpc64le": ("ppc64le", None),
    "riscv64": ("riscv64", None),
    "s390x": ("s390x", None),
    "mips64el": ("mips64le", None),
}
_PLACEHOLDER = "0" * 64

#: A layer's ``(digest, size of its tar)``.
LayerDigest = tuple[str, int]
#: What identifies one version of a source file: inode, size, mtime and ctime (ns).
Stamp = tuple[int, int, int, int]


@dataclass(frozen=True)
class Archive:
    """What an archive holds, and its size in bytes."""

    image_id: str
    manifest_digest: str
    layers: tuple[LayerDigest, ...]
    size: int


@dataclass(frozen=True)
class Built(Archive):
    """What ``write_archive`` wrote, and where."""

    path: str


@dataclass(frozen=True)
class Documents:
    """The archive's JSON members: they depend only on the image and its layer digests."""

    layers: tuple[LayerDigest, ...]
    config: bytes
    config_digest: str
    manifest: bytes
    manifest_digest: str
    index: bytes
    docker: bytes

    @property
    def image_id(self) -> str:
        return self.config_digest


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def platform(image: OciImage) -> dict[str, str]:
    """``system`` (or ``target``, or the host) → OCI architecture, variant and os."""
    system = image.system or f"{elf.host_arch()}-linux"
    arch = elf.arch_of(image.target.split("-", 1)[0] if image.target else system)
    os_name = system.split("-", 1)[1] if "-" in system else "linux"
    if arch not in _GOARCH or os_name != "linux":
        raise ImageError(f"image.system: {system!r} is not a system corral can build for")
    goarch, variant = _GOARCH[arch]
    out = {"architecture": goarch, "os": "linux"}
    if variant:
        out["variant"] = variant
    return out


def timestamp(mtime: int) -> str:
    return datetime.datetime.fromtimestamp(mtime, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_config(
    image: OciImage, diff_ids: Sequence[str], comments: Sequence[str], mtime: int
) -> dict[str, Any]:
    """The image config (pure)."""
    config: dict[str, Any] = {}
    if image.env:
        config["Env"] = list(image.env)
    if image.entrypoint:
        config["Entrypoint"] = list(image.entrypoint)
    if image.cmd:
        config["Cmd"] = list(image.cmd)
    if image.workdir:
        config["WorkingDir"] = image.workdir
    if image.user:
        config["User"] = image.user
    if image.labels:
        config["Labels"] = dict(image.labels)
    if image.exposed_ports:
        config["ExposedPorts"] = {(p if "/" in p else f"{p}/tcp"): {} for p in image.exposed_ports}
    created = timestamp(mtime)
    return {
        **platform(image),
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [
            {"created": created, "created_by": "corral image build", "comment": c} for c in comments
        ],
    }


def descriptor(media_type: str, digest: str, size: int) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def oci_manifest(config: dict[str, Any], layers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": list(layers)}


def oci_index(manifest: dict[str, Any], reference: str, plat: dict[str, str]) -> dict[str, Any]:
    entry = {
        **manifest,
        "annotations": {CONTAINERD_NAME: reference, REF_NAME: reference},
        "platform": plat,
    }
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}


def docker_manifest(config: str, layers: Sequence[str], reference: str) -> list[dict[str, Any]]:
    return [{"Config": config, "RepoTags": [reference], "Layers": list(layers)}]


def blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/", 1)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def documents(
    image: OciImage, layers: Sequence[Layer], digests: Sequence[LayerDigest], mtime: int
) -> Documents:
    """The JSON members of the archive of ``layers`` with these ``digests`` (pure)."""
    config = canonical_json(
        image_config(image, [d for d, _ in digests], [la.comment for la in layers], mtime)
    )
    config_digest = sha256_digest(config)
    manifest = canonical_json(
        oci_manifest(
            descriptor(OCI_CONFIG, config_digest, len(config)),
            [descriptor(OCI_LAYER, d, s) for d, s in digests],
        )
    )
    manifest_digest = sha256_digest(manifest)
    index = oci_index(
        descriptor(OCI_MANIFEST, manifest_digest, len(manifest)), image.reference, platform(image)
    )
    docker = docker_manifest(
        blob_name(config_digest), [blob_name(d) for d, _ in digests], image.reference
    )
    return Documents(
        tuple(digests),
        config,
        config_digest,
        manifest,
        manifest_digest,
        canonical_json(index),
        canonical_json(docker),
    )


def stamp(status: os.stat_result) -> Stamp:
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def layer_digests(
    layers: Sequence[Layer],
    mtime: int,
    stamps: dict[str, Stamp] | None = None,
    progress: Progress | None = None,
) -> list[LayerDigest]:
    """Each layer's ``(digest, size)``, from hashing its tar without writing it.
    ``stamps``, when given, receives the stamp of every source file read."""
    opened: Opened | None = None
    if stamps is not None:
        record = stamps

        def opened(source: str, status: os.stat_result) -> None:
            record[source] = stamp(status)

    out = []
    for layer in layers:
        heads = headers(layer.entries, mtime)
        hasher = hashlib.sha256()
        write_tar(layer.entries, mtime, hasher.update, progress, heads, opened)
        out.append(("sha256:" + hasher.hexdigest(), tar_size(layer.entries, mtime, heads)))
    return out


def changed_sources(layer: Layer, stamps: Mapping[str, Stamp]) -> list[str]:
    """The source files of ``layer`` whose stamp is no longer the recorded one."""
    changed = []
    for entry in layer.entries:
        if entry.source is None or entry.source not in stamps:
            continue
        try:
            now: Stamp | None = stamp(os.stat(entry.source))
        except OSError:
            now = None
        if now != stamps[entry.source]:
            changed.append(entry.source)
    return changed


def check_unchanged(number: int, layer: Layer, stamps: Mapping[str, Stamp]) -> None:
    """``ImageError`` naming the files of layer ``number`` whose stamps changed."""
    changed = changed_sources(layer, stamps)
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise ImageError(
            f"{', '.join(changed[:3])}{more} in layer {number} ({layer.comment}): changed "
            "while the image was being written (after it was hashed); it was not loaded"
        )


class _Writer:
    """Writes tar members to ``fh``, counting the bytes."""

    def __init__(self, fh: BinaryIO, mtime: int) -> None:
        self.fh = fh
        self.mtime = mtime
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.fh.write(data)
        self.size += len(data)

    def header(self, name: str, size: int, directory: bool = False) -> bytes:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
        info.mode = 0o755 if directory else 0o644
        info.mtime, info.size = self.mtime, size
        info.uname = info.gname = ""
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def directory(self, name: str) -> None:
        self.write(self.header(name, 0, directory=True))

    def file(self, name: str, data: bytes) -> None:
        self.write(self.header(name, len(data)))
        self.write(data)
        self.write(bytes(padding(len(data))))

    def end(self) -> None:
        self.write(END)

    def layer_body(
        self, layer: Layer, heads: Sequence[bytes], progress: Progress | None
    ) -> LayerDigest:
        """Stream ``layer``'s tar (after its header) and its padding; its digest and size."""
        hasher = hashlib.sha256()
        fh = self.fh
        written = 0

        def sink(data: bytes | memoryview) -> None:
            nonlocal written
            hasher.update(data)
            fh.write(data)
            written += len(data)

        write_tar(layer.entries, self.mtime, sink, progress, heads)
        self.size += written
        self.write(bytes(padding(written)))
        return "sha256:" + hasher.hexdigest(), written

    def layer_in_place(self, layer: Layer, progress: Progress | None) -> LayerDigest:
        """A layer into a seekable file: placeholder header, body, then the real header."""
        heads = headers(layer.entries, self.mtime)
        size = tar_size(layer.entries, self.mtime, heads)
        start = self.fh.tell()
        placeholder = self.header(blob_name("sha256:" + _PLACEHOLDER), size)
        self.write(placeholder)
        digest, written = self.layer_body(layer, heads, progress)
        if written != size:
            raise ImageError(f"layer size changed while writing ({written} != {size} bytes)")
        end = self.fh.tell()
        final = self.header(blob_name(digest), size)
        assert len(final) == len(placeholder)
        self.fh.seek(start)
        self.fh.write(final)
        self.fh.seek(end)
        return digest, size

    def layer_known(
        self,
        number: int,
        layer: Layer,
        want: LayerDigest,
        progress: Progress | None,
        stamps: Mapping[str, Stamp],
    ) -> LayerDigest:
        """A layer whose digest is known: its final header, the body, its padding;
        ``ImageError`` if a file changed since it was hashed."""
        heads = headers(layer.entries, self.mtime)
        size = tar_size(layer.entries, self.mtime, heads)
        if size != want[1]:
            raise ImageError(f"layer {number} ({layer.comment}): {size} bytes, not {want[1]}")
        self.write(self.header(blob_name(want[0]), size))
        write_tar(layer.entries, self.mtime, self.write, progress, heads)
        self.write(bytes(padding(size)))
        check_unchanged(number, layer, stamps)
        return want


LayerOut = Callable[[int, Layer], LayerDigest]


def _emit(out: _Writer, layers: Sequence[Layer], image: OciImage, layer_out: LayerOut) -> Documents:
    """Write the archive's members in order; ``layer_out`` writes layer ``n`` (from 1)."""
    platform(image)  # an image corral cannot build for is refused before any byte
    out.file("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
    out.directory("blobs/")
    out.directory("blobs/sha256/")
    digests = [layer_out(n, layer) for n, layer in enumerate(layers, 1)]
    docs = documents(image, layers, digests, out.mtime)
    out.file(blob_name(docs.config_digest), docs.config)
    out.file(blob_name(docs.manifest_digest), docs.manifest)
    out.file("index.json", docs.index)
    out.file("manifest.json", docs.docker)
    out.end()
    return docs


def write_archive(
    path: str,
    layers: Sequence[Layer],
    image: OciImage,
    mtime: int,
    progress: Progress | None = None,
) -> Built:
    """Write the archive of ``layers`` for ``image`` to ``path`` (atomically), reading
    each file once."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb", buffering=4 << 20) as fh:
            out = _Writer(fh, mtime)
            docs = _emit(out, layers, image, lambda _, layer: out.layer_in_place(layer, progress))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Built(docs.image_id, docs.manifest_digest, docs.layers, out.size, path)


def stream_archive(
    fh: BinaryIO,
    layers: Sequence[Layer],
    image: OciImage,
    mtime: int,
    digests: Sequence[LayerDigest],
    stamps: Mapping[str, Stamp],
    progress: Progress | None = None,
    held: Collection[int] = (),
) -> Archive:
    """Write the archive of ``layers`` to ``fh``, which need not seek (a pipe), given
    their ``digests`` and source ``stamps`` from ``layer_digests``; the same bytes
    ``write_archive`` writes. A layer with a file whose stamp changed is an
    ``ImageError`` naming it, raised before the manifests are written.

    The blobs of the layers numbered in ``held`` (from 1) are left out: that
    stream is only for an engine whose layer store already holds them, which
    ``docker load`` then does not look for."""
    if len(digests) != len(layers):
        raise ValueError(f"{len(digests)} digests for {len(layers)} layers")
    out = _Writer(fh, mtime)

    def layer_out(number: int, layer: Layer) -> LayerDigest:
        if number in held:
            return digests[number - 1]
        return out.layer_known(number, layer, digests[number - 1], progress, stamps)

    docs = _emit(out, layers, image, layer_out)
    fh.flush()
    return Archive(docs.image_id, docs.manifest_digest, docs.layers, out.size)


def stream_layer(
    fh: BinaryIO,
    number: int,
    layer: Layer,
    mtime: int,
    stamps: Mapping[str, Stamp],
) -> None:
    """Write layer ``number``'s bare tar to ``fh`` (for ``docker import``), checked
    against ``stamps`` as ``stream_archive`` checks it. The check comes before the
    tar's end-of-archive blocks, so a reader that was promised the tar's size
    (``Content-Length``) sees a cut stream when it fails. (A layer tar is whole
    blocks, so no padding follows it.)"""
    write_tar(layer.entries, mtime, fh.write, None, headers(layer.entries, mtime), end=False)
    check_unchanged(number, layer, stamps)
    fh.write(END)
    fh.flush()
