"""load_image's decisions (load, tag, skip) against a fake engine CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from corral.config import OciImage
from corral.errors import CommandError, ImageError
from corral.image import build_image
from corral.image.load import Feed, archive_image_id, load_archive, load_image, parse_loaded


def streamed_image_id(data: bytes) -> str:
    """The image ID of a streamed archive, read from its manifest.json as docker does."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        config = tar.extractfile(json.load(manifest)[0]["Config"])
        assert config is not None
        return "sha256:" + hashlib.sha256(config.read()).hexdigest()


class FakeEngine:
    """Answers ``image inspect``, ``load`` and ``tag`` like docker or podman would.
    ``load`` reads the archive from ``-i FILE``, or from what is fed to its stdin."""

    def __init__(self, runtime: str, *, says: str = "name") -> None:
        self.runtime = runtime
        self.says = says
        self.images: dict[str, str] = {}  # name or ID → ID
        self.calls: list[list[str]] = []
        self.received = b""  # what was last streamed to ``load``

    def read(self, argv: list[str], feed: Feed | None) -> str:
        if feed is None:
            assert argv[2] == "-i", argv
            return archive_image_id(argv[3])
        assert argv[2:] == [], argv  # streamed: no file
        stdin = io.BytesIO()
        try:
            feed(stdin)
        finally:
            self.received = stdin.getvalue()
        return streamed_image_id(self.received)

    def __call__(self, argv: Sequence[str], feed: Feed | None = None) -> str:
        argv = list(argv)
        self.calls.append(argv[1:3])
        if argv[1:3] == ["image", "inspect"]:
            ref = argv[-1]
            if ref not in self.images:
                raise CommandError(argv, 1, "", f"Error: No such image: {ref}")
            image_id = self.images[ref]
            if self.runtime == "podman":
                image_id = image_id.removeprefix("sha256:")
            return image_id + "\n"
        if argv[1] == "load":
            image_id = self.read(argv, feed)
            self.images[image_id] = image_id
            if self.says == "id":
                return f"Loaded image ID: {image_id}\n"
            self.images["localhost/other:1"] = image_id
            return "Getting image source signatures\nLoaded image: localhost/other:1\n"
        if argv[1] == "tag":
            self.images[argv[3]] = self.images[argv[2]]
            return ""
        raise AssertionError(argv)


@pytest.fixture
def image() -> OciImage:
    return OciImage(repository="corral-test/logic", tag="1", programs=["/bin/busybox"])


@pytest.mark.parametrize("runtime", ["docker", "podman"])
@pytest.mark.parametrize("says", ["name", "id"])
def test_load_then_tag_then_skip(image: OciImage, tmp_path: Path, runtime: str, says: str) -> None:
    engine = FakeEngine(runtime, says=says)
    image_id = load_image(image, runtime, runner=engine)
    assert image_id.startswith("sha256:")
    assert engine.images[image.reference] == image_id
    assert ["load"] in engine.calls and ["tag", image_id] in engine.calls
    # What was streamed is, byte for byte, the archive build_image writes.
    build_image(image, str(tmp_path / "img.tar"), sbom=False)
    assert engine.received == (tmp_path / "img.tar").read_bytes()
    engine.calls.clear()
    assert load_image(image, runtime, runner=engine) == image_id
    assert all(c[0] == "image" for c in engine.calls)


def test_an_image_under_another_name_is_only_tagged(image: OciImage) -> None:
    engine = FakeEngine("docker")
    image_id = load_image(image, "docker", runner=engine)
    del engine.images[image.reference]
    engine.calls.clear()
    assert load_image(image, "docker", runner=engine) == image_id
    assert [c[0] for c in engine.calls if c[0] != "image"] == ["tag"]


def test_tarball_is_loaded_as_is(image: OciImage, tmp_path: Path) -> None:
    engine = FakeEngine("docker", says="id")
    built = load_image(image, "docker", runner=engine)
    assert list(tmp_path.iterdir()) == []
    tarball = tmp_path / "img.tar"
    build_image(image, str(tarball), sbom=False)
    from_tarball = OciImage(repository="corral-test/from-tarball", tarball=str(tarball))
    engine.calls.clear()
    assert load_image(from_tarball, "docker", runner=engine) == built
    assert engine.images["corral-test/from-tarball:latest"] == built
    assert ["load"] not in engine.calls  # the ID was there: tagged, not loaded


def test_wrong_id_after_load_is_an_error(image: OciImage, tmp_path: Path) -> None:
    archive = str(tmp_path / "img.tar")
    build_image(image, archive, sbom=False)
    with pytest.raises(ImageError, match="loaded sha256:"):
        load_archive(
            archive,
            "x:1",
            "docker",
            image_id="sha256:" + "0" * 64,
            runner=FakeEngine("docker", says="id"),
        )


def test_unknown_runtime(image: OciImage) -> None:
    with pytest.raises(ImageError, match="runtime must be one of docker, podman, but 'lxc'"):
        load_image(image, "lxc", runner=FakeEngine("docker"))


def test_parse_loaded_reads_both_forms() -> None:
    assert parse_loaded("Loaded image: a/b:1\n") == (["a/b:1"], [])
    assert parse_loaded("Loaded image ID: sha256:abc\n") == ([], ["sha256:abc"])
    assert parse_loaded("Getting image source signatures\nLoaded image(s): x:1,y:2\n") == (
        ["x:1", "y:2"],
        [],
    )


def test_a_file_changed_after_hashing_is_named_and_never_loaded(tmp_path: Path) -> None:
    from corral.image.build import digest_image
    from corral.image.load import load_streamed

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_bytes(b"a" * 5000)
    (data / "b.txt").write_bytes(b"b" * 5000)
    image = OciImage(repository="corral-test/changed", tag="1", files=[(str(data), "/data")])
    digested = digest_image(image)
    # Same size (the size check can't see it), new bytes, a new mtime.
    (data / "b.txt").write_bytes(b"B" * 5000)
    os.utime(data / "b.txt", ns=(1, 1))
    engine = FakeEngine("docker", says="id")
    with pytest.raises(ImageError, match=rf"{data}/b\.txt in layer 1 .*changed while"):
        load_streamed(digested, "docker", runner=engine)
    assert ["load"] in engine.calls
    assert engine.received  # the layer went out, but not the manifests after it
    assert b"manifest.json" not in engine.received and b"index.json" not in engine.received
    assert engine.images == {}


def test_docker_socket_follows_docker_host() -> None:
    from corral.image.docker_api import (
        ApiImporter,
        CliImporter,
        docker_importer,
        docker_socket,
    )

    assert docker_socket({}) == "/var/run/docker.sock"
    assert docker_socket({"DOCKER_HOST": "unix:///run/d.sock"}) == "/run/d.sock"
    assert docker_socket({"DOCKER_HOST": "tcp://10.0.0.1:2375"}) is None
    runner = FakeEngine("docker")
    assert isinstance(docker_importer(runner, 5, {"DOCKER_HOST": "ssh://h"}), CliImporter)
    api = docker_importer(runner, 5, {"DOCKER_HOST": "unix:///run/d.sock"})
    assert isinstance(api, ApiImporter) and api.path == "/run/d.sock"


def test_an_import_answer_gives_the_image_or_its_error() -> None:
    from corral.image.docker_api import progress_result

    assert progress_result(b'{"status":"sha256:abc"}\r\n\r\n') == "sha256:abc"
    ended = b'{"status":"x"}\n{"errorDetail":{"message":"no space"},"error":"no space"}\n'
    with pytest.raises(ImageError, match="docker import: no space"):
        progress_result(ended)
    with pytest.raises(ImageError, match="unreadable answer"):
        progress_result(b"<html>")
