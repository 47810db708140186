"""The streamed archive: the same bytes as the file, also through the pipe that
carries it to an engine (``engine.feed.written_by``; its failures are tested
in tests/engine/test_engine_feed.py)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from corral.config import OciImage
from corral.engine.feed import written_by
from corral.errors import ImageError
from corral.image import build_image
from corral.image.archive import Stamp, documents, layer_digests, stream_archive
from corral.image.build import digest_image, prepare

MiB = 1 << 20


@pytest.fixture
def image(tmp_path: Path) -> OciImage:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "big.bin").write_bytes(os.urandom(3 * MiB + 123))
    for i in range(50):
        (tree / "sub" / f"f{i}").write_bytes(os.urandom(i * 97))
    (tree / "link").symlink_to("big.bin")
    return OciImage(
        repository="localhost/corral-test/stream",
        tag="1",
        programs=["/bin/busybox"],
        files=[(str(tree), "/data")],
        symlinks=["/bin/sh:busybox"],
        cmd=["/bin/sh"],
    )


def test_stream_is_byte_identical_to_the_file(image: OciImage, tmp_path: Path) -> None:
    environ = {"SOURCE_DATE_EPOCH": "1700000000"}
    built = build_image(image, str(tmp_path / "img.tar"), sbom=False, environ=environ)
    written = (tmp_path / "img.tar").read_bytes()
    _, layers = prepare(image)
    stamps: dict[str, Stamp] = {}
    digests = layer_digests(layers, 1700000000, stamps)
    assert tuple(digests) == built.built.layers
    assert documents(image, layers, digests, 1700000000).image_id == built.image_id
    assert set(stamps) == {e.source for la in layers for e in la.entries if e.source}
    out = io.BytesIO()
    streamed = stream_archive(out, layers, image, 1700000000, digests, stamps)
    assert out.getvalue() == written
    assert (streamed.image_id, streamed.size) == (built.image_id, len(written))
    assert streamed.layers == built.built.layers


def test_stream_through_a_pipe(image: OciImage, tmp_path: Path) -> None:
    build_image(image, str(tmp_path / "img.tar"), sbom=False)
    digested = digest_image(image)

    async def hashed() -> tuple[str, int]:
        sha, pieces = hashlib.sha256(), 0
        async for chunk in written_by(digested.stream):
            sha.update(chunk)
            pieces += 1
        return sha.hexdigest(), pieces

    threads, fds = threading.active_count(), set(os.listdir("/proc/self/fd"))
    digest, pieces = asyncio.run(hashed())
    assert digest == hashlib.sha256((tmp_path / "img.tar").read_bytes()).hexdigest()
    assert pieces > 1  # it arrived as it was written, not in one piece
    assert threading.active_count() <= threads
    assert set(os.listdir("/proc/self/fd")) <= fds


def test_layers_alone_and_archives_without_held_blobs(image: OciImage, tmp_path: Path) -> None:
    """What ``import_then_load`` sends: a layer's bare tar (the blob's bytes), and the
    archive without that blob (every other member as in the file)."""
    import tarfile

    built = build_image(image, str(tmp_path / "img.tar"), sbom=False)
    digested = digest_image(image)
    assert digested.image_id == built.image_id
    with tarfile.open(tmp_path / "img.tar") as whole:
        members = {m.name: whole.extractfile(m).read() for m in whole if m.isfile()}  # type: ignore[union-attr]
    for number, (digest, size) in enumerate(built.built.layers, 1):
        bare = io.BytesIO()
        digested.stream_layer(bare, number)
        assert bare.getvalue() == members["blobs/" + digest.replace(":", "/")]
        assert len(bare.getvalue()) == size and size % 512 == 0
    slim = io.BytesIO()
    digested.stream(slim, held={1})
    first = "blobs/" + built.built.layers[0][0].replace(":", "/")
    with tarfile.open(fileobj=io.BytesIO(slim.getvalue())) as held:
        got = {m.name: held.extractfile(m).read() for m in held if m.isfile()}  # type: ignore[union-attr]
    assert got == {name: data for name, data in members.items() if name != first}


def test_a_layer_changed_after_hashing_stops_its_import(image: OciImage, tmp_path: Path) -> None:
    digested = digest_image(image)
    big = next(Path(s) for la in digested.layers for e in la.entries
               if (s := e.source) and s.endswith("big.bin"))  # fmt: skip
    number = next(n for n, la in enumerate(digested.layers, 1)
                  if any(e.source == str(big) for e in la.entries))  # fmt: skip
    big.write_bytes(os.urandom(3 * MiB + 123))  # same size, other bytes
    out = io.BytesIO()
    with pytest.raises(ImageError, match=rf"{big} in layer {number} .*changed while"):
        digested.stream_layer(out, number)
    # all but the end-of-archive blocks: a reader told the size sees a cut stream
    assert len(out.getvalue()) == digested.layer_size(number) - 1024
