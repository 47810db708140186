"""Same inputs → the same archive bytes and image ID, whatever mtimes, umask and listing order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _imagehelp import layer_members, validate_oci

from corral.config import OciImage
from corral.errors import ImageError
from corral.image import build_image
from corral.image.tarball import source_date_epoch

NAMES = ["b.txt", "a.txt", "sub/z.bin", "sub/y.bin", "sub/deep/x", "c-link"]


def make_tree(root: Path, order: list[str], mtime: int, umask: int) -> Path:
    old = os.umask(umask)
    try:
        root.mkdir()
        for name in order:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name == "c-link":
                path.symlink_to("a.txt")
            else:
                path.write_bytes(name.encode() * 1000)
                if name.endswith(".bin"):
                    path.chmod(0o777 & ~umask)
        os.link(root / "a.txt", root / "hard")
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                os.utime(os.path.join(dirpath, n), (mtime, mtime), follow_symlinks=False)
    finally:
        os.umask(old)
    return root


def image(tree: Path) -> OciImage:
    return OciImage(
        repository="localhost/corral-test/repro",
        tag="1",
        files=[(str(tree), "/data"), (str(tree / "a.txt"), "/etc/a.conf")],
        programs=["/bin/busybox"],
        symlinks=["/bin/sh:busybox"],
        env=["PATH=/bin"],
        cmd=["/bin/sh"],
        labels={"b": "2", "a": "1"},
        exposed_ports=["80"],
    )


def test_two_builds_are_bit_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = make_tree(tmp_path / "one", NAMES, mtime=1_000_000, umask=0o022)
    two = make_tree(tmp_path / "two", list(reversed(NAMES)), mtime=2_000_000_000, umask=0o077)
    first = build_image(image(one), str(tmp_path / "one.tar"), sbom=False)

    real_scandir = os.scandir

    class Reversed:
        """os.scandir listing entries in reverse order."""

        def __init__(self, path: str) -> None:
            with real_scandir(path) as it:
                self.entries = list(reversed(list(it)))

        def __enter__(self) -> list[os.DirEntry[str]]:
            return self.entries

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(os, "scandir", Reversed)
    second = build_image(image(two), str(tmp_path / "two.tar"), sbom=False)
    assert first.image_id == second.image_id
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()


def test_entries_are_normalised(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", NAMES, mtime=123456789, umask=0o077)
    out = tmp_path / "x.tar"
    build_image(image(tree), str(out), sbom=False)
    validate_oci(out)
    members = {m.name.rstrip("/"): m for layer in layer_members(out) for m in layer}
    assert {m.mtime for m in members.values()} == {1}
    assert members["data/a.txt"].mode == 0o644
    assert members["data/sub/z.bin"].mode == 0o755
    assert members["data/sub"].mode == 0o755
    assert members["data/hard"].isfile()  # hard links are dereferenced
    assert members["data/hard"].size == members["data/a.txt"].size
    assert members["data/c-link"].linkname == "a.txt"
    for layer in layer_members(out):
        names = [m.name.rstrip("/").encode() for m in layer]
        assert names == sorted(names)


def test_source_date_epoch(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", NAMES, mtime=5, umask=0o022)
    out = tmp_path / "x.tar"
    result = build_image(
        image(tree), str(out), sbom=False, environ={"SOURCE_DATE_EPOCH": "1700000000"}
    )
    members = [m for layer in layer_members(out) for m in layer]
    assert {m.mtime for m in members} == {1700000000}
    config = validate_oci(out)["config"]
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert result.image_id == validate_oci(out)["manifest"]["config"]["digest"]


@pytest.mark.parametrize("bad", ["", "-1", "1.5", " 12", "12abc", "١٢", "99999999999999"])
def test_source_date_epoch_is_validated_strictly(bad: str) -> None:
    with pytest.raises(ImageError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch({"SOURCE_DATE_EPOCH": bad})


def test_source_date_epoch_unset_is_one() -> None:
    assert source_date_epoch({}) == 1
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "0"}) == 0
