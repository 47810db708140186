"""The decisions of making an image present (load, import, tag, skip, pull)
against a fake image store (``engine.images.ImageStore``): no engine."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from corral.config import OciImage
from corral.engine.api import Upload
from corral.engine.images import (
    Loaded,
    load_archive,
    load_digested,
    parse_loaded,
    present_in,
)
from corral.engine.pull import PullError
from corral.errors import ImageError
from corral.image import build_image
from corral.image.build import digest_image
from corral.image.inspect import archive_image_id
from corral.runtimes import Runtime


def streamed_image_id(data: bytes) -> str:
    """The image ID of a streamed archive, read from its manifest.json as docker does."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        config = tar.extractfile(json.load(manifest)[0]["Config"])
        assert config is not None
        return "sha256:" + hashlib.sha256(config.read()).hexdigest()


class FakeStore:
    """Answers like docker's or podman's images would. ``load`` reads the whole
    upload (its producer's error, if any, is raised as a real engine's
    transport raises it) and finds the image ID in the archive's manifest.json;
    ``says`` is whether it then names the image or its ID."""

    def __init__(self, runtime: Runtime, *, says: str = "name") -> None:
        self.runtime = runtime
        self.says = says
        self.images: dict[str, str] = {}  # name or ID → ID
        self.layer_of: dict[str, list[str]] = {}  # imported image → its layers
        self.calls: list[str] = []
        self.received = b""  # what was last uploaded
        self.sizes: list[int | None] = []  # the declared size of each upload
        self.pullable: dict[str, str] = {}  # what a pull would fetch: name → ID

    async def _read(self, upload: Upload) -> bytes:
        self.sizes.append(upload.size)
        got = bytearray()
        try:
            async for chunk in upload.chunks:
                got += chunk
        finally:
            self.received = bytes(got)
        return self.received

    async def image_id(self, reference: str) -> str | None:
        self.calls.append("inspect")
        return self.images.get(reference)

    async def layers(self, image_id: str) -> list[str]:
        self.calls.append("layers")
        return self.layer_of[image_id]

    async def tag(self, image_id: str, reference: str) -> None:
        self.calls.append("tag")
        self.images[reference] = self.images[image_id]

    async def load(self, archive: Upload) -> Loaded:
        self.calls.append("load")
        image_id = streamed_image_id(await self._read(archive))
        self.images[image_id] = image_id
        if self.says == "id":
            return [], [image_id.removeprefix("sha256:")]
        self.images["localhost/other:1"] = image_id
        return ["localhost/other:1"], []

    async def import_layer(self, layer: Upload) -> str:
        self.calls.append("import")
        data = await self._read(layer)
        image_id = "sha256:" + "1" * 64
        self.images[image_id] = image_id
        self.layer_of[image_id] = ["sha256:" + hashlib.sha256(data).hexdigest()]
        return image_id

    async def remove(self, image_id: str) -> None:
        self.calls.append("remove")
        self.images.pop(image_id, None)

    async def pull(self, reference: str) -> None:
        self.calls.append("pull")
        if reference not in self.pullable:
            raise PullError(f"pull {reference}: no registry answered (fake)")
        self.images[reference] = self.pullable[reference]


@pytest.fixture
def image() -> OciImage:
    return OciImage(repository="corral-test/logic", tag="1", programs=["/bin/busybox"])


def present(store: FakeStore, image: str | OciImage, **kwargs: object) -> str:
    return asyncio.run(present_in(store, image, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("runtime", ["docker", "podman"])
@pytest.mark.parametrize("says", ["name", "id"])
def test_load_then_tag_then_skip(
    image: OciImage, tmp_path: Path, runtime: Runtime, says: str
) -> None:
    store = FakeStore(runtime, says=says)
    image_id = present(store, image)
    assert image_id.startswith("sha256:")
    assert store.images[image.reference] == image_id
    assert [c for c in store.calls if c != "inspect"] == ["load", "tag"]
    # What was streamed is, byte for byte, the archive build_image writes; its
    # size was not declared (chunked).
    build_image(image, str(tmp_path / "img.tar"), sbom=False)
    assert store.received == (tmp_path / "img.tar").read_bytes()
    assert store.sizes == [None]
    store.calls.clear()
    assert present(store, image) == image_id
    assert store.calls == ["inspect"]


def test_an_image_under_another_name_is_only_tagged(image: OciImage) -> None:
    store = FakeStore("docker")
    image_id = present(store, image)
    del store.images[image.reference]
    store.calls.clear()
    assert present(store, image) == image_id
    assert [c for c in store.calls if c != "inspect"] == ["tag"]


def test_tarball_is_loaded_as_is(image: OciImage, tmp_path: Path) -> None:
    store = FakeStore("docker", says="id")
    built = present(store, image)
    assert list(tmp_path.iterdir()) == []  # streamed: no archive file written
    tarball = tmp_path / "img.tar"
    build_image(image, str(tarball), sbom=False)
    from_tarball = OciImage(repository="corral-test/from-tarball", tarball=str(tarball))
    store.calls.clear()
    assert present(store, from_tarball) == built
    assert store.images["corral-test/from-tarball:latest"] == built
    assert "load" not in store.calls  # the ID was there: tagged, not loaded
    other = FakeStore("podman", says="id")
    assert present(other, from_tarball) == built  # loaded from the file, its size declared
    assert other.received == tarball.read_bytes() and other.sizes == [tarball.stat().st_size]


def test_a_relative_tarball_is_read_from_the_base_dir(image: OciImage, tmp_path: Path) -> None:
    build_image(image, str(tmp_path / "img.tar"), sbom=False)
    relative = OciImage(repository="corral-test/rel", tarball="img.tar")
    store = FakeStore("docker")
    assert present(store, relative, base_dir=str(tmp_path)) == archive_image_id(
        str(tmp_path / "img.tar")
    )
    with pytest.raises(ImageError, match=r"image.tarball: .*img\.tar does not exist"):
        present(FakeStore("docker"), relative, base_dir=str(tmp_path / "elsewhere"))


def test_wrong_id_after_load_is_an_error(image: OciImage, tmp_path: Path) -> None:
    archive = str(tmp_path / "img.tar")
    build_image(image, archive, sbom=False)
    with pytest.raises(ImageError, match="docker loaded sha256:"):
        asyncio.run(
            load_archive(
                FakeStore("docker", says="id"), archive, "x:1", image_id="sha256:" + "0" * 64
            )
        )


def test_parse_loaded_reads_both_forms() -> None:
    assert parse_loaded("Loaded image: a/b:1\n") == (["a/b:1"], [])
    assert parse_loaded("Loaded image ID: sha256:abc\n") == ([], ["sha256:abc"])
    assert parse_loaded("Getting image source signatures\nLoaded image(s): x:1,y:2\n") == (
        ["x:1", "y:2"],
        [],
    )


def test_a_file_changed_after_hashing_is_named_and_never_loaded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_bytes(b"a" * 5000)
    (data / "b.txt").write_bytes(b"b" * 5000)
    image = OciImage(repository="corral-test/changed", tag="1", files=[(str(data), "/data")])
    digested = digest_image(image)
    # Same size (the size check can't see it), new bytes, a new mtime.
    (data / "b.txt").write_bytes(b"B" * 5000)
    os.utime(data / "b.txt", ns=(1, 1))
    store = FakeStore("docker", says="id")
    with pytest.raises(ImageError, match=rf"{data}/b\.txt in layer 1 .*changed while"):
        asyncio.run(load_digested(store, digested))
    assert "load" in store.calls
    assert store.received  # the layer went out, but not the manifests after it
    assert b"manifest.json" not in store.received and b"index.json" not in store.received
    assert store.images == {}


def test_a_big_base_layer_goes_into_docker_by_import(image: OciImage) -> None:
    """docker only: the base layer by import (its size declared), checked, then
    the archive without its blob; the imported image is removed."""
    digested = digest_image(image)
    store = FakeStore("docker", says="id")
    assert asyncio.run(load_digested(store, digested, import_at=0)) == digested.image_id
    assert [c for c in store.calls if c != "inspect"] == [
        "import",
        "layers",
        "load",
        "remove",
        "tag",
    ]
    assert store.sizes == [digested.layer_size(1), None]
    base = "blobs/" + digested.documents.layers[0][0].replace(":", "/")
    with tarfile.open(fileobj=io.BytesIO(store.received)) as sent:
        assert base not in sent.getnames()  # the load went without the base layer
    assert "sha256:" + "1" * 64 not in store.images
    podman = FakeStore("podman", says="id")
    assert asyncio.run(load_digested(podman, digest_image(image), import_at=0))
    assert "import" not in podman.calls  # podman loads the whole archive


def test_an_import_that_made_another_layer_is_refused_and_removed(image: OciImage) -> None:
    class Wrong(FakeStore):
        async def layers(self, image_id: str) -> list[str]:
            return ["sha256:" + "2" * 64]

    store = Wrong("docker")
    with pytest.raises(ImageError, match=r"docker import made layer sha256:2+, not sha256:"):
        asyncio.run(load_digested(store, digest_image(image), import_at=0))
    assert store.calls[-1] == "remove" and "load" not in store.calls


def test_a_string_image_is_pulled_only_when_missing() -> None:
    store = FakeStore("docker")
    store.images["localhost/here:1"] = "sha256:" + "a" * 64
    assert present(store, "localhost/here:1") == "sha256:" + "a" * 64
    assert store.calls == ["inspect"]  # present: no pull (there is no registry for it)
    store.pullable["team/app:2"] = "sha256:" + "b" * 64
    store.calls.clear()
    assert present(store, "team/app:2") == "sha256:" + "b" * 64
    assert store.calls == ["inspect", "pull", "inspect"]
    with pytest.raises(PullError, match="no registry answered"):
        present(store, "team/absent:1")


def test_concurrent_starts_share_one_load(image: OciImage) -> None:
    """Containers of one image wrap ``present`` in ``EngineHub.once`` (as the
    container runner does): five at once inspect and load it once."""
    from corral.supervisor.engines import EngineHub

    store = FakeStore("podman")

    async def five() -> list[str]:
        hub = EngineHub(lambda runtime: None)  # type: ignore[arg-type,return-value]
        key = f"podman image {image.reference}"
        return await asyncio.gather(
            *(hub.once(key, lambda: present_in(store, image)) for _ in range(5))
        )

    ids = asyncio.run(five())
    assert len(set(ids)) == 1
    assert store.calls == ["inspect", "inspect", "load", "inspect", "tag", "inspect"]  # one present
