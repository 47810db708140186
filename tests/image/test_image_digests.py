"""Layer digests remembered by their files' stamps (``DigestCache``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corral.config import OciImage
from corral.image import build, digests
from corral.image.build import digest_image
from corral.image.digests import DigestCache


@pytest.fixture
def image(tmp_path: Path) -> OciImage:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.bin").write_bytes(os.urandom(5000))
    (tree / "b.bin").write_bytes(os.urandom(7000))
    return OciImage(repository="corral-test/digests", tag="1", files=[(str(tree), "/data")])


def no_hashing(*_: object, **__: object) -> object:
    raise AssertionError("the layers were hashed again")


def test_a_known_image_is_not_read_again(
    image: OciImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DigestCache(str(tmp_path / "state"))
    first = digest_image(image, cache=cache)
    assert first.image_id == digest_image(image).image_id  # the cache changes nothing
    assert (tmp_path / "state" / digests.FILE_NAME).exists()
    monkeypatch.setattr(build, "layer_digests", no_hashing)
    again = digest_image(image, cache=cache)
    assert again.image_id == first.image_id
    assert again.documents == first.documents
    assert dict(again.stamps) == dict(first.stamps)  # what the stream checks against


def test_a_file_written_since_is_hashed_again(image: OciImage, tmp_path: Path) -> None:
    cache = DigestCache(str(tmp_path / "state"))
    first = digest_image(image, cache=cache)
    b = tmp_path / "tree" / "b.bin"
    before = b.stat()
    b.write_bytes(os.urandom(7000))  # same size, other bytes, the old mtime put back
    os.utime(b, ns=(before.st_atime_ns, before.st_mtime_ns))
    changed = digest_image(image, cache=cache)
    assert changed.image_id != first.image_id
    assert changed.image_id == digest_image(image).image_id


def test_a_broken_or_foreign_cache_file_is_an_empty_cache(image: OciImage, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = state / digests.FILE_NAME
    cache = DigestCache(str(state))
    for content in ("{not json", "[1, 2]", json.dumps({"k": "v"})):
        path.write_text(content)
        assert digest_image(image, cache=cache).image_id == digest_image(image).image_id
    learnt = {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, list)}
    assert learnt
    path.write_text(json.dumps({k: [d, s + 1] for k, (d, s) in learnt.items()}))  # sizes off
    assert digest_image(image, cache=cache).image_id == digest_image(image).image_id


def test_the_cache_keeps_its_newest_entries(
    image: OciImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, "KEEP", 2)
    cache = DigestCache(str(tmp_path / "state"))
    for i in range(4):
        (tmp_path / "tree" / "a.bin").write_bytes(os.urandom(5000 + i))
        digest_image(image, cache=cache)
    assert len(json.loads((tmp_path / "state" / digests.FILE_NAME).read_text())) == 2
