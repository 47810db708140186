"""Build an ``OciImage``'s archive: collect, plan layers, write, list (the edge with I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from corral.config.image import OciImage
from corral.errors import ImageError
from corral.image.archive import Built, write_archive
from corral.image.content import Content, collect
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


def prepare(
    image: OciImage, *, base_dir: str | None = None
) -> tuple[Content, list[Layer]]:
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
