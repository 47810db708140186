"""Build an ``OciImage``'s archive: collect, plan layers, write, list (the edge with I/O).

``build_image`` writes the archive to a file; ``digest_image`` only hashes the
layers, so the image ID is known before anything is written, and the archive
can then be streamed (``Digested.stream``) to an engine (``engine.images``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from corral.config.image import OciImage
from corral.errors import ImageError
from corral.image.archive import (
    Archive,
    Built,
    Documents,
    Stamp,
    documents,
    layer_digests,
    stream_archive,
    stream_layer,
    write_archive,
)
from corral.image.content import Content, collect
from corral.image.digests import DigestCache, Known
from corral.image.layers import Layer, plan
from corral.image.sbom import write_sbom
from corral.image.tarball import Progress, source_date_epoch


@dataclass(frozen=True)
class BuildResult:
    built: Built
    layers: tuple[Layer, ...]
    notes: tuple[str, ...]
    sbom: str | None

    @property
    def image_id(self) -> str:
        return self.built.image_id


def prepare(image: OciImage, *, base_dir: str | None = None) -> tuple[Content, list[Layer]]:
    """Check the inputs and plan the layers, writing nothing."""
    if not image.is_build:
        raise ImageError(f"{image.reference}: has a tarball ({image.tarball}); nothing to build")
    content = collect(image, base_dir=base_dir)
    return content, plan(content, image.max_layers)


def build_image(
    image: OciImage,
    output: str,
    *,
    base_dir: str | None = None,
    progress: Progress | None = None,
    environ: Mapping[str, str] | None = None,
    sbom: bool = True,
    prepared: tuple[Content, list[Layer]] | None = None,
) -> BuildResult:
    """Write ``image``'s archive to ``output`` (and ``output.spdx.json`` with ``sbom``)."""
    mtime = source_date_epoch(environ)
    content, layers = prepared if prepared is not None else prepare(image, base_dir=base_dir)
    built = write_archive(output, layers, image, mtime, progress)
    listing = write_sbom(content, built, image.reference, mtime) if sbom else None
    return BuildResult(built, tuple(layers), content.notes, listing)


@dataclass(frozen=True)
class Digested:
    """An image whose layers were hashed, not written: its ID is known, and its
    archive can be streamed to a file object that need not seek."""

    image: OciImage
    layers: tuple[Layer, ...]
    mtime: int
    documents: Documents
    stamps: Mapping[str, Stamp]

    @property
    def image_id(self) -> str:
        return self.documents.image_id

    def stream(
        self, fh: BinaryIO, progress: Progress | None = None, held: Collection[int] = ()
    ) -> Archive:
        """Write the archive to ``fh`` (without the blobs of the ``held`` layers):
        ``ImageError`` if a file changed since hashing."""
        return stream_archive(
            fh, self.layers, self.image, self.mtime, self.documents.layers, self.stamps,
            progress, held,
        )  # fmt: skip

    def stream_layer(self, fh: BinaryIO, number: int) -> None:
        """Write layer ``number``'s (from 1) bare tar to ``fh``, checked the same way."""
        stream_layer(fh, number, self.layers[number - 1], self.mtime, self.stamps)

    def layer_size(self, number: int) -> int:
        """The size of layer ``number``'s (from 1) bare tar."""
        return self.documents.layers[number - 1][1]


def digest_image(
    image: OciImage,
    *,
    base_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
    prepared: tuple[Content, list[Layer]] | None = None,
    cache: DigestCache | None = None,
) -> Digested:
    """Plan ``image``'s layers and hash them (reading every file once), writing
    nothing — unless ``cache`` knows their digests for the files as they are;
    what a hash pass learns is kept there."""
    mtime = source_date_epoch(environ)
    _, layers = prepared if prepared is not None else prepare(image, base_dir=base_dir)
    known = cache.lookup(layers, mtime) if cache is not None else None
    if known is None:
        stamps: dict[str, Stamp] = {}
        digests = layer_digests(layers, mtime, stamps)
        if cache is not None:
            cache.remember(layers, mtime, digests, stamps)
        known = Known(tuple(digests), stamps)
    docs = documents(image, layers, known.digests, mtime)
    return Digested(image, tuple(layers), mtime, docs, known.stamps)
