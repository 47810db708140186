"""One archive that is both a docker-archive and an OCI image layout.

The archive is a tar holding::

    oci-layout                       {"imageLayoutVersion": "1.0.0"}
    blobs/sha256/<layer digests>     uncompressed layer tars
    blobs/sha256/<config digest>     the image config
    blobs/sha256/<manifest digest>   the OCI manifest
    index.json                       OCI index, the reference in its annotations
    manifest.json                    docker-archive manifest with RepoTags

``docker load`` reads ``manifest.json``; ``podman load`` and other OCI tools
read ``index.json``; both find the same blobs. It is written in one streaming
pass: each layer's size is known beforehand from the entries, so its header
is written with a placeholder name, the layer streams through SHA-256 into
the file, and the header is then rewritten with the digest (same length).
The JSON documents are canonical (sorted keys, no spaces), so the same layers
and config give the same bytes and the same image ID.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corral.config.image import OciImage
from corral.errors import ImageError
from corral.image import elf
from corral.image.layers import Layer
from corral.image.tarball import BLOCK, Progress, headers, padding, tar_size, write_tar

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


@dataclass(frozen=True)
class Built:
    """What ``write_archive`` wrote."""

    path: str
    image_id: str
    manifest_digest: str
    layers: tuple[tuple[str, int], ...]
    size: int


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
            {"created": created, "created_by": "corral image build", "comment": c}
            for c in comments
        ],
    }


def descriptor(media_type: str, digest: str, size: int) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def oci_manifest(config: dict[str, Any], layers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": list(layers)}


def oci_index(manifest: dict[str, Any], reference: str, plat: dict[str, str]) -> dict[str, Any]:
    entry = {**manifest, "annotations": {CONTAINERD_NAME: reference, REF_NAME: reference},
             "platform": plat}
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}


def docker_manifest(config: str, layers: Sequence[str], reference: str) -> list[dict[str, Any]]:
    return [{"Config": config, "RepoTags": [reference], "Layers": list(layers)}]


def blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/", 1)


class _Writer:
    def __init__(self, fh: Any, mtime: int) -> None:
        self.fh = fh
        self.mtime = mtime

    def header(self, name: str, size: int, directory: bool = False) -> bytes:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
        info.mode = 0o755 if directory else 0o644
        info.mtime, info.size = self.mtime, size
        info.uname = info.gname = ""
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def directory(self, name: str) -> None:
        self.fh.write(self.header(name, 0, directory=True))

    def file(self, name: str, data: bytes) -> None:
        self.fh.write(self.header(name, len(data)))
        self.fh.write(data)
        self.fh.write(bytes(padding(len(data))))

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.file(blob_name(digest), data)
        return digest

    def layer(self, layer: Layer, progress: Progress | None) -> tuple[str, int]:
        heads = headers(layer.entries, self.mtime)
        size = tar_size(layer.entries, self.mtime, heads)
        start = self.fh.tell()
        placeholder = self.header(blob_name("sha256:" + _PLACEHOLDER), size)
        self.fh.write(placeholder)
        hasher = hashlib.sha256()
        written = 0

        def sink(data: bytes | memoryview) -> None:
            nonlocal written
            hasher.update(data)
            self.fh.write(data)
            written += len(data)

        write_tar(layer.entries, self.mtime, sink, progress, heads)
        if written != size:
            raise ImageError(f"layer size changed while writing ({written} != {size} bytes)")
        self.fh.write(bytes(padding(size)))
        digest = "sha256:" + hasher.hexdigest()
        end = self.fh.tell()
        final = self.header(blob_name(digest), size)
        assert len(final) == len(placeholder)
        self.fh.seek(start)
        self.fh.write(final)
        self.fh.seek(end)
        return digest, size


def write_archive(
    path: str,
    layers: Sequence[Layer],
    image: OciImage,
    mtime: int,
    progress: Progress | None = None,
) -> Built:
    """Write the archive of ``layers`` for ``image`` to ``path`` (atomically)."""
    plat = platform(image)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb", buffering=4 << 20) as fh:
            out = _Writer(fh, mtime)
            out.file("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
            out.directory("blobs/")
            out.directory("blobs/sha256/")
            done = [out.layer(layer, progress) for layer in layers]
            config = canonical_json(
                image_config(image, [d for d, _ in done], [la.comment for la in layers], mtime)
            )
            config_digest = out.blob(config)
            manifest = canonical_json(
                oci_manifest(
                    descriptor(OCI_CONFIG, config_digest, len(config)),
                    [descriptor(OCI_LAYER, d, s) for d, s in done],
                )
            )
            manifest_digest = out.blob(manifest)
            index = oci_index(
                descriptor(OCI_MANIFEST, manifest_digest, len(manifest)), image.reference, plat
            )
            out.file("index.json", canonical_json(index))
            out.file(
                "manifest.json",
                canonical_json(
                    docker_manifest(
                        blob_name(config_digest), [blob_name(d) for d, _ in done], image.reference
                    )
                ),
            )
            fh.write(bytes(2 * BLOCK))
            size = fh.tell()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Built(path, config_digest, manifest_digest, tuple(done), size)
