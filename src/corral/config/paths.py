"""Relative host paths in a configuration are relative to the file that declares them."""

from __future__ import annotations

import os

from corral.config.container import OciContainer
from corral.config.image import OciImage
from corral.config.top import Config


def _anchor(base: str, path: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def anchored_image(image: OciImage, base: str) -> OciImage:
    """``image`` with its host paths (tarball, rootfs, files and programs sources) absolute."""
    return image.model_copy(
        update={
            "tarball": None if image.tarball is None else _anchor(base, image.tarball),
            "rootfs": None if image.rootfs is None else _anchor(base, image.rootfs),
            "files": tuple((_anchor(base, src), dest) for src, dest in image.files),
            "programs": tuple(
                (src if "/" not in src else _anchor(base, src), dest)
                for src, dest in image.programs
            ),
        }
    )


def anchored(config: Config, base: str) -> Config:
    """``config`` with its state_dir and every image's host paths made absolute
    against ``base``."""
    containers: list[OciContainer] = []
    for container in config.containers:
        if isinstance(container.image, OciImage):
            container = container.model_copy(
                update={"image": anchored_image(container.image, base)}
            )
        containers.append(container)
    state_dir = None if config.state_dir is None else _anchor(base, config.state_dir)
    return config.model_copy(update={"containers": tuple(containers), "state_dir": state_dir})
