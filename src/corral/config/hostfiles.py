"""What ``corral check`` asks of the host, beyond the file itself: the files a
container's start will read (env files, secret sources) are there, readable and
well formed. Values are never part of a message."""

from __future__ import annotations

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
    return problems


def _env_files(container: OciContainer, at: tuple[str, int]) -> Iterator[Problem]:
    for j, path in enumerate(container.env_files):
        try:
            read_env_file(path)
        except OSError as error:
            yield Problem(f"cannot read {path}: {error.strerror}", (*at, "env_files", j))
        except EnvFileError as error:
            yield Problem(f"{path}: {error}", (*at, "env_files", j))
