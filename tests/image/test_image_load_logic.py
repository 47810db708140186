"""load_image's decisions (load, tag, skip) against a fake engine CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from corral.config import OciImage
from corral.errors import CommandError, ImageError
from corral.image import build_image
from corral.image.load import archive_image_id, load_archive, load_image, parse_loaded


class FakeEngine:
    """Answers ``image inspect``, ``load`` and ``tag`` like docker or podman would."""

    def __init__(self, runtime: str, *, says: str = "name") -> None:
        self.runtime = runtime
        self.says = says
        self.images: dict[str, str] = {}  # name or ID → ID
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> str:
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
            image_id = archive_image_id(argv[-1])
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
    image_id = load_image(image, runtime, cache_dir=tmp_path, runner=engine)
    assert image_id.startswith("sha256:")
    assert engine.images[image.reference] == image_id
    assert ["load", "-i"] in engine.calls and ["tag", image_id] in engine.calls
    engine.calls.clear()
    assert load_image(image, runtime, cache_dir=tmp_path, runner=engine) == image_id
    assert all(c[0] == "image" for c in engine.calls)


def test_tarball_is_loaded_as_is(image: OciImage, tmp_path: Path) -> None:
    engine = FakeEngine("docker", says="id")
    built = load_image(image, "docker", cache_dir=tmp_path, runner=engine)
    assert list(tmp_path.iterdir()) == []  # the built archive was transient
    tarball = tmp_path / "img.tar"
    build_image(image, str(tarball), sbom=False)
    from_tarball = OciImage(repository="corral-test/from-tarball", tarball=str(tarball))
    assert load_image(from_tarball, "docker", cache_dir=tmp_path, runner=engine) == built
    assert engine.images["corral-test/from-tarball:latest"] == built


def test_wrong_id_after_load_is_an_error(image: OciImage, tmp_path: Path) -> None:
    archive = str(tmp_path / "img.tar")
    build_image(image, archive, sbom=False)
    with pytest.raises(ImageError, match="loaded sha256:"):
        load_archive(archive, "x:1", "docker", image_id="sha256:" + "0" * 64,
                     runner=lambda argv: FakeEngine("docker", says="id")(argv))


def test_unknown_runtime(image: OciImage, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="runtime must be one of docker, podman, but 'lxc'"):
        load_image(image, "lxc", cache_dir=tmp_path, runner=FakeEngine("docker"))


def test_parse_loaded_reads_both_forms() -> None:
    assert parse_loaded("Loaded image: a/b:1\n") == (["a/b:1"], [])
    assert parse_loaded("Loaded image ID: sha256:abc\n") == ([], ["sha256:abc"])
    assert parse_loaded("Getting image source signatures\nLoaded image(s): x:1,y:2\n") == (
        ["x:1", "y:2"],
        [],
    )
