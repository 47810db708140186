"""Helpers shared by the image tests (not a test module)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

from corral.config import OciImage


def read_archive(path: Path) -> dict[str, bytes]:
    """Every regular member of the archive tar, by name."""
    out: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile():
                fh = tar.extractfile(member)
                assert fh is not None
                out[member.name] = fh.read()
    return out


def validate_oci(path: Path) -> dict[str, Any]:
    """Independent structural check of the OCI layout and docker-archive faces."""
    members = read_archive(path)
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in members.items():
        if name.startswith("blobs/"):
            algo, hexdigest = name.split("/")[1:]
            assert algo == "sha256"
            assert hashlib.sha256(data).hexdigest() == hexdigest, name

    def blob(desc: dict[str, Any]) -> bytes:
        data = members["blobs/" + desc["digest"].replace(":", "/")]
        assert len(data) == desc["size"]
        return data

    index = json.loads(members["index.json"])
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    [desc] = index["manifests"]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(blob(desc))
    assert manifest["mediaType"] == desc["mediaType"]
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(blob(manifest["config"]))
    diff_ids = []
    for layer in manifest["layers"]:
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
        data = blob(layer)
        diff_ids.append(layer["digest"])
        with tarfile.open(fileobj=__import__("io").BytesIO(data)) as tar:
            for member in tar:
                assert member.uid == 0 and member.gid == 0
                assert not member.islnk(), member.name
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    [docker] = json.loads(members["manifest.json"])
    assert docker["Config"] == "blobs/" + manifest["config"]["digest"].replace(":", "/")
    assert docker["Layers"] == ["blobs/" + d.replace(":", "/") for d in diff_ids]
    return {"index": index, "manifest": manifest, "config": config, "docker": docker}


def layer_members(path: Path) -> list[list[tarfile.TarInfo]]:
    """The members of each layer, in layer order."""
    import io

    members = read_archive(path)
    [docker] = json.loads(members["manifest.json"])
    out = []
    for name in docker["Layers"]:
        with tarfile.open(fileobj=io.BytesIO(members[name])) as tar:
            out.append(tar.getmembers())
    return out


def load_into_docker(image: OciImage, socket: str) -> str:
    """``image`` made present on the dockerd at ``socket``, as a container's start
    makes it; its image ID."""
    from corral.engine.client import connect
    from corral.engine.endpoint import at
    from corral.engine.images import present

    async def load() -> str:
        engine = await connect(at("docker", socket))
        try:
            return await present(engine, image, state_dir=None)
        finally:
            await engine.close()

    return asyncio.run(load())
