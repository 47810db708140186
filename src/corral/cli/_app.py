"""The ``corral`` command group, its global options, and error reporting.

Exit status: 0 success, 1 a failed operation, 2 invalid configuration or usage,
3 a deadline (``--timeout``) passed before the daemon answered.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from corral.errors import ConfigError, CorralError, DeadlineError
from corral.paths import find_config

if TYPE_CHECKING:
    from corral.config import Loaded

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_TIMEOUT = 3


@dataclass
class Options:
    """What the global options said; the configuration is loaded on first use."""

    config_path: str | None
    socket: str | None
    _loaded: Loaded | None = field(default=None, repr=False)

    def loaded(self) -> Loaded:
        if self._loaded is None:
            from corral.config import load

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
        except DeadlineError as error:
            click.echo(f"corral: {error}", err=True)
            sys.exit(EXIT_TIMEOUT)
        except CorralError as error:
            click.echo(f"corral: {error}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


#: Which module declares each command; a command's module is imported only
#: when that command runs, so `corral status` stays as light as the socket.
COMMAND_MODULES = {
    "check": "config_commands",
    "show": "config_commands",
    "command-line": "config_commands",
    "doc": "config_commands",
    "schema": "config_commands",
    "daemon": "service_commands",
    "up": "service_commands",
    "down": "service_commands",
    "status": "service_commands",
    "start": "service_commands",
    "stop": "service_commands",
    "restart": "service_commands",
    "enable": "service_commands",
    "disable": "service_commands",
    "action": "service_commands",
    "logs": "service_commands",
    "graph": "service_commands",
    "plan": "service_commands",
    "reload": "service_commands",
    "activate": "service_commands",
    "image": "image_commands",
    "lock": "lock_commands",
    "update": "lock_commands",
    "dashboard": "web_commands",
    "export": "export_commands",
    "import": "compose_commands",
    "doctor": "doctor_commands",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's lazy-loading pattern)."""

    def _load(self, name: str) -> None:
        module = COMMAND_MODULES.get(name)
        if module is not None and name not in self.commands:
            importlib.import_module(f"corral.cli.{module}")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in COMMAND_MODULES:
            self._load(name)
        return super().list_commands(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="FILE",
    help="Configuration file (default ./corral.toml, then /etc/corral/corral.toml; "
    "as any other user than root $XDG_CONFIG_HOME/corral/corral.toml).",
)
@click.option(
    "--socket",
    envvar="CORRAL_SOCKET",
    metavar="PATH",
    help="The daemon's control socket (or $CORRAL_SOCKET).",
)
@click.option(
    "--project",
    envvar="CORRAL_PROJECT",
    metavar="NAME",
    help="Prefix container names (NAME-web-1), networks and volumes (NAME_net) as "
    "Compose does (or $CORRAL_PROJECT).",
)
@click.version_option(package_name="corral")
@click.pass_context
def app(
    ctx: click.Context, config_path: str | None, socket: str | None, project: str | None
) -> None:
    """Containers and processes as supervised host services."""
    if project:
        os.environ["CORRAL_PROJECT"] = project  # the daemon it starts loads the same names
    ctx.obj = Options(config_path, socket)


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """Declare a subcommand of ``corral`` whose errors are reported by the contract."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        made: click.Command = app.command(*args, **kwargs)(reports_errors(function))
        return made

    return decorate
