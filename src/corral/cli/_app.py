"""The ``corral`` command group, its global options, and error reporting.

Exit status: 0 success, 1 a failed operation, 2 invalid configuration or usage.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import click

from corral.config import Loaded, find_config, load
from corral.errors import ConfigError, CorralError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED = 1
EXIT_INVALID = 2


@dataclass
class Options:
    """What the global options said; the configuration is loaded on first use."""

    config_path: str | None
    socket: str | None
    _loaded: Loaded | None = field(default=None, repr=False)

    def loaded(self) -> Loaded:
        if self._loaded is None:
            self._loaded = load(find_config(self.config_path))
        return self._loaded


pass_options = click.make_pass_decorator(Options)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn corral's errors into one clear message and the contract's exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            sys.exit(EXIT_INVALID)
        except CorralError as error:
            click.echo(f"corral: {error}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="FILE",
    help="Configuration file (default ./corral.toml, then /etc/corral/corral.toml).",
)
@click.option(
    "--socket",
    envvar="CORRAL_SOCKET",
    metavar="PATH",
    help="The daemon's control socket (or $CORRAL_SOCKET).",
)
@click.version_option(package_name="corral")
@click.pass_context
def app(ctx: click.Context, config_path: str | None, socket: str | None) -> None:
    """Containers and processes as supervised host services."""
    ctx.obj = Options(config_path, socket)


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """Declare a subcommand of ``corral`` whose errors are reported by the contract."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        made: click.Command = app.command(*args, **kwargs)(reports_errors(function))
        return made

    return decorate
