"""What ``corral check`` asks of the host, beyond the file itself: the files a
container's start will read (env files, secret sources) are there, readable and
well formed. Values are never part of a message."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from corral.config.container import OciContainer
from corral.config.envfile import EnvFileError, read_env_file
from corral.config.top import Config
from corral.errors import Problem


def host_problems(config: Config) -> list[Problem]:
    """Every problem with the host files ``config`` names (paths as Python spells them)."""
    problems: list[Problem] = []
    for i, container in enumerate(config.containers):
        problems += _env_files(container, ("containers", i))
        problems += _secrets(container, ("containers", i))
    return problems


def _secrets(container: OciContainer, at: tuple[str, int]) -> Iterator[Problem]:
    for j, secret in enumerate(container.secrets):
        if secret.source is None:
            continue
        where = (*at, "secrets", j, "source")
        try:
            with open(secret.source, "rb") as stream:
                mode = os.fstat(stream.fileno()).st_mode
        except OSError as error:
            yield Problem(f"cannot read {secret.source}: {error.strerror}", where)
            continue
        if not stat.S_ISREG(mode):
            yield Problem(f"{secret.source} is not a regular file", where)
        elif mode & stat.S_IROTH and not secret.allow_world_readable:
            yield Problem(
                f"{secret.source} is readable by others (mode {stat.S_IMODE(mode):04o}): "
                "chmod o-r it, or set allow_world_readable = true",
                where,
            )


def _env_files(container: OciContainer, at: tuple[str, int]) -> Iterator[Problem]:
    for j, path in enumerate(container.env_files):
        try:
            read_env_file(path)
        except OSError as error:
            yield Problem(f"cannot read {path}: {error.strerror}", (*at, "env_files", j))
        except EnvFileError as error:
            yield Problem(f"{path}: {error}", (*at, "env_files", j))
