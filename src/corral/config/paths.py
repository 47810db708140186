"""Relative host paths in a configuration are relative to the file that declares them.

A bind source in a container's ``volumes`` is resolved as Compose does: ``./data``
and ``../data`` against the configuration file's directory, ``~`` and ``~/data``
against the home of the user corral runs as; a name (no ``/``, ``.`` or ``~``
prefix) stays a named volume.
"""

from __future__ import annotations

import os
import pwd

from corral.config.container import OciContainer
from corral.config.image import OciImage
from corral.config.mounts import Mount, parse_mount
from corral.config.top import Config


def _anchor(base: str, path: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def _home() -> str:
    """The home of the user corral runs as (not ``$HOME``, which sudo may keep)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return os.path.expanduser("~")


def host_path(base: str, path: str) -> str:
    """A host path as written in a volume's source, made absolute: ``~`` and
    ``~/…`` under the home of the user corral runs as, a relative path under
    ``base``."""
    if path == "~" or path.startswith("~/"):
        return os.path.normpath(os.path.join(_home(), path[2:]))
    if path.startswith("~"):
        return os.path.normpath(os.path.expanduser(path))
    return _anchor(base, path)


def anchored_volume(spec: str, base: str) -> str:
    """A ``volumes`` member with a relative or ``~`` bind source made absolute."""
    mount = parse_mount(spec)
    if mount.source is None or not mount.source.startswith((".", "~")):
        return spec  # anonymous, named, or already absolute
    return Mount(host_path(base, mount.source), mount.target, mount.options).text


def anchored_image(image: OciImage, base: str) -> OciImage:
    """``image`` with its host paths (tarball, rootfs, files and programs sources) absolute."""
    return image.model_copy(
        update={
            "tarball": None if image.tarball is None else _anchor(base, image.tarball),
            "build": None
            if image.build is None
            else image.build.model_copy(update={"context": _anchor(base, image.build.context)}),
            "rootfs": None if image.rootfs is None else _anchor(base, image.rootfs),
            "files": tuple((_anchor(base, src), dest) for src, dest in image.files),
            "programs": tuple(
                (src if "/" not in src else _anchor(base, src), dest)
                for src, dest in image.programs
            ),
        }
    )


def anchored(config: Config, base: str) -> Config:
    """``config`` with its state_dir, every image's host paths, every bind
    source and env file made absolute against ``base``."""
    containers: list[OciContainer] = []
    for container in config.containers:
        volumes = tuple(anchored_volume(spec, base) for spec in container.volumes)
        env_files = tuple(host_path(base, path) for path in container.env_files)
        secrets = tuple(
            s if s.source is None else s.model_copy(update={"source": host_path(base, s.source)})
            for s in container.secrets
        )
        if (volumes, env_files, secrets) != (
            container.volumes,
            container.env_files,
            container.secrets,
        ):
            container = container.model_copy(
                update={"volumes": volumes, "env_files": env_files, "secrets": secrets}
            )
        if isinstance(container.image, OciImage):
            container = container.model_copy(
                update={"image": anchored_image(container.image, base)}
            )
        containers.append(container)
    state_dir = None if config.state_dir is None else _anchor(base, config.state_dir)
    registries = tuple(
        r if r.password_file is None
        else r.model_copy(update={"password_file": host_path(base, r.password_file)})
        for r in config.registries
    )  # fmt: skip
    return config.model_copy(
        update={"containers": tuple(containers), "state_dir": state_dir, "registries": registries}
    )
