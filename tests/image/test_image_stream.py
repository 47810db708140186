"""The streamed archive: the same bytes as the file, through a pipe, and ``run``'s feed."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import BinaryIO

import pytest
from sv_helpers import own_children

from corral.config import OciImage
from corral.errors import CommandError, ImageError
from corral.image import build_image
from corral.image.archive import Stamp, documents, layer_digests, stream_archive
from corral.image.build import digest_image, prepare
from corral.image.load import run

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

    def feed(fh: BinaryIO) -> None:
        digested.stream(fh)

    before = own_children()
    out = run(["sha256sum"], feed=feed)
    assert out.split()[0] == hashlib.sha256((tmp_path / "img.tar").read_bytes()).hexdigest()
    assert own_children() <= before


def test_a_failing_feed_kills_the_command_and_is_raised(tmp_path: Path) -> None:
    def feed(fh: BinaryIO) -> None:
        fh.write(b"x" * (3 * MiB))
        raise ImageError("a file changed")

    before, fds = own_children(), set(os.listdir("/proc/self/fd"))
    marker = tmp_path / "finished"
    with pytest.raises(ImageError, match="a file changed"):
        run(["sh", "-c", f"cat >/dev/null; touch {marker}"], feed=feed)
    assert not marker.exists()  # killed before it saw the end of its input
    assert own_children() <= before
    assert set(os.listdir("/proc/self/fd")) <= fds


def test_a_command_that_stops_reading_reports_its_own_error() -> None:
    def feed(fh: BinaryIO) -> None:
        for _ in range(16):
            fh.write(bytes(MiB))

    with pytest.raises(CommandError) as caught:
        run(["sh", "-c", "echo 'no space left' >&2; exit 3"], feed=feed)
    assert caught.value.returncode == 3
    assert "no space left" in str(caught.value)


def test_a_command_that_never_reads_times_out() -> None:
    def feed(fh: BinaryIO) -> None:
        for _ in range(16):
            fh.write(bytes(MiB))

    with pytest.raises(CommandError, match="timed out"):
        run(["sleep", "30"], feed=feed, timeout=0.5)


def test_run_without_a_feed() -> None:
    assert run(["sh", "-c", "cat; echo out"]) == "out\n"  # stdin is /dev/null
    with pytest.raises(CommandError) as missing:
        run(["corral-no-such-program"])
    assert missing.value.returncode == 127


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
