"""Read an image archive back: its reference, config, layers with sizes and digests,
and a structural check of both of its faces (OCI image layout and docker-archive);
or only the image ID a docker-archive holds (``archive_image_id``)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from typing import Any

from corral.errors import ImageError
from corral.image.archive import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, REF_NAME

_SMALL = 1 << 20


@dataclass(frozen=True)
class LayerInfo:
    digest: str
    size: int
    comment: str


@dataclass(frozen=True)
class ArchiveInfo:
    reference: str | None
    image_id: str | None
    architecture: str | None
    os: str | None
    layers: tuple[LayerInfo, ...]
    problems: tuple[str, ...]

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


def _read(path: str) -> tuple[dict[str, tuple[str, int]], dict[str, bytes]]:
    """Every regular member's (sha256, size), and the bytes of the small ones."""
    hashes: dict[str, tuple[str, int]] = {}
    small: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                assert fh is not None
                hasher = hashlib.sha256()
                keep = member.size <= _SMALL
                data = b""
                while chunk := fh.read(1 << 20):
                    hasher.update(chunk)
                    if keep:
                        data += chunk
                name = member.name.removeprefix("./")
                hashes[name] = ("sha256:" + hasher.hexdigest(), member.size)
                if keep:
                    small[name] = data
    except (OSError, tarfile.TarError) as exc:
        raise ImageError(f"{path}: not a readable tar archive ({exc})") from exc
    return hashes, small


def _json(small: dict[str, bytes], name: str, problems: list[str]) -> Any:
    if name not in small:
        problems.append(f"{name} is missing")
        return None
    try:
        return json.loads(small[name])
    except ValueError as exc:
        problems.append(f"{name} is not JSON: {exc}")
        return None


def _blob(hashes: dict[str, tuple[str, int]], desc: Any, what: str, problems: list[str]) -> str:
    digest, size = str(desc.get("digest", "")), desc.get("size")
    name = "blobs/" + digest.replace(":", "/", 1)
    if name not in hashes:
        problems.append(f"{what}: blob {digest} is missing")
    elif hashes[name] != (digest, size):
        problems.append(f"{what}: blob {name} has digest/size {hashes[name]}, not {(digest, size)}")
    return name


def inspect_archive(path: str) -> ArchiveInfo:
    """Read ``path``; ``problems`` lists whatever a structural check found wrong."""
    hashes, small = _read(path)
    problems: list[str] = []
    for name, (digest, _) in hashes.items():
        if name.startswith("blobs/sha256/") and name != "blobs/" + digest.replace(":", "/"):
            problems.append(f"{name}: content has digest {digest}")
    if _json(small, "oci-layout", problems) not in ({"imageLayoutVersion": "1.0.0"}, None):
        problems.append("oci-layout: imageLayoutVersion is not 1.0.0")
    index = _json(small, "index.json", problems) or {}
    if index and index.get("mediaType") != OCI_INDEX:
        problems.append(f"index.json: mediaType is {index.get('mediaType')!r}")
    manifests = index.get("manifests") or [{}]
    desc = manifests[0]
    reference = (desc.get("annotations") or {}).get(REF_NAME)
    manifest: dict[str, Any] = {}
    if desc:
        if desc.get("mediaType") != OCI_MANIFEST:
            problems.append(f"index.json: manifest mediaType is {desc.get('mediaType')!r}")
        manifest = json.loads(small.get(_blob(hashes, desc, "index.json", problems), b"{}"))
    if manifest and manifest.get("mediaType") != OCI_MANIFEST:
        problems.append(f"manifest: mediaType is {manifest.get('mediaType')!r}")
    config_desc = manifest.get("config") or {}
    config: dict[str, Any] = {}
    image_id = config_desc.get("digest")
    if config_desc:
        if config_desc.get("mediaType") != OCI_CONFIG:
            problems.append(f"manifest: config mediaType is {config_desc.get('mediaType')!r}")
        config = json.loads(small.get(_blob(hashes, config_desc, "config", problems), b"{}"))
    layer_descs = manifest.get("layers") or []
    for i, layer in enumerate(layer_descs):
        if layer.get("mediaType") != OCI_LAYER:
            problems.append(f"manifest: layers[{i}] mediaType is {layer.get('mediaType')!r}")
        _blob(hashes, layer, f"layers[{i}]", problems)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if [d.get("digest") for d in layer_descs] != diff_ids:
        problems.append("config: rootfs.diff_ids do not match the manifest's layers")
    docker = _json(small, "manifest.json", problems) or [{}]
    if docker[0].get("Layers") != [
        "blobs/" + str(d.get("digest")).replace(":", "/", 1) for d in layer_descs
    ]:
        problems.append("manifest.json: Layers differ from the OCI manifest's")
    if docker[0].get("Config") != "blobs/" + str(image_id).replace(":", "/", 1):
        problems.append("manifest.json: Config differs from the OCI manifest's")
    comments = [h.get("comment", "") for h in config.get("history") or []]
    comments += [""] * (len(layer_descs) - len(comments))
    return ArchiveInfo(
        reference=reference or next(iter(docker[0].get("RepoTags") or []), None),
        image_id=image_id,
        architecture=config.get("architecture"),
        os=config.get("os"),
        layers=tuple(
            LayerInfo(str(d.get("digest")), int(d.get("size", 0)), c)
            for d, c in zip(layer_descs, comments, strict=False)
        ),
        problems=tuple(problems),
    )


def archive_image_id(path: str) -> str:
    """The image ID an archive holds (its docker-archive ``manifest.json`` Config)."""
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest = json.load(member)
            config_name = manifest[0]["Config"]
            config = tar.extractfile(config_name)
            if config is None:
                raise KeyError(config_name)
            return "sha256:" + hashlib.sha256(config.read()).hexdigest()
    except (OSError, KeyError, IndexError, ValueError, tarfile.TarError) as exc:
        raise ImageError(f"{path}: not a docker-archive with a manifest.json ({exc})") from exc
