"""``corral import compose``: a compose project as a corral configuration file."""

from __future__ import annotations

import os
import sys

import click

from corral.cli._app import app, reports_errors
from corral.errors import ConfigError, Problem


@app.group("import")
def import_group() -> None:
    """Turn another tool's declarations into a corral configuration."""


@import_group.command("compose")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="FILE",
    help="A compose file; several are merged in order (default ./compose.yaml, "
    "./compose.yml, ./docker-compose.yaml or ./docker-compose.yml).",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    metavar="FILE",
    help="Variables for interpolation instead of the project's .env.",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="NAME",
    help="Enable the services of this profile (or $COMPOSE_PROFILES).",
)
@click.option(
    "-o",
    "--output",
    default="corral.toml",
    show_default=True,
    metavar="FILE",
    help="Where to write the configuration; - for standard output.",
)
@click.option(
    "--project",
    metavar="NAME",
    help="Prefix names as Compose does (NAME-web-1, NAME_default); default: none, "
    "or the file's name:.",
)
@reports_errors
def import_compose(
    files: tuple[str, ...],
    env_files: tuple[str, ...],
    profiles: tuple[str, ...],
    output: str,
    project: str | None,
) -> None:
    """Convert compose files to a corral configuration, every key left out
    written as a comment at its place, and print what was converted."""
    from corral.config.compose import convert, read_project
    from corral.config.compose.summary import summary
    from corral.config.compose.writer import to_toml
    from corral.config.loader import load_text

    chosen = list(files) or _default_compose()
    read = read_project(chosen, env_files=env_files, profiles=profiles)
    base = os.getcwd() if output == "-" else os.path.dirname(os.path.abspath(output))
    conversion = convert(read, project_name=project, base=base)
    text = to_toml(conversion, chosen)
    target = "corral.toml" if output == "-" else output
    try:
        load_text(text, os.path.join(base, os.path.basename(target)))
    except ConfigError as error:  # the converted records break corral's rules: say where
        from corral.config.loader import locate_converted

        raise locate_converted(conversion, error) from None
    if output == "-":
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(text)
    click.echo(summary(conversion, None if output == "-" else output), err=output == "-")


def _default_compose() -> list[str]:
    for name in ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"):
        if os.path.exists(name):
            return [name]
    raise ConfigError(
        [Problem("no compose file found: pass -f FILE, or run where compose.yaml is")]
    )
