"""Commands that only read the configuration: check, show, command-line, doc, schema."""

from __future__ import annotations

import json
import shlex

import click

from corral.cli._app import Options, command, pass_options
from corral.config import declared_services
from corral.config.docs import reference_markdown, schema_json
from corral.errors import ConfigError, Problem
from corral.render import show_services
from corral.render.services import service_details


@command("check")
@pass_options
def check(options: Options) -> None:
    """Validate the configuration; print every problem as FILE:LINE: field: message."""
    loaded = options.loaded()
    count = len(declared_services(loaded.config))
    click.echo(f"{loaded.path}: ok ({count} service{'s' if count != 1 else ''})")


@command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def show(options: Options, name: str | None, as_json: bool) -> None:
    """The resolved services: name, kind, requirement, argv (in dependency order)."""
    loaded = options.loaded()
    views = show_services(loaded.config)
    if name is not None:
        views = [v for v in views if v["name"] == name]
        if not views:
            raise _unknown_service(name, loaded.path)
    if as_json:
        click.echo(json.dumps(views, indent=2))
        return
    details = {s.name: service_details(s) for s in declared_services(loaded.config)}
    for view in views:
        extra = details[view["name"]]
        click.echo(f"{view['name']} ({view['kind']})")
        if view["image"]:
            click.echo(f"  image:       {view['image']}")
        click.echo(f"  requirement: {', '.join(view['requirement']) or '-'}")
        click.echo(f"  auto_start:  {str(view['auto_start']).lower()}")
        click.echo(f"  respawn:     {str(view['respawn']).lower()}")
        click.echo(f"  argv:        {shlex.join(view['argv'])}")
        if extra["host_environment"]:
            names = ", ".join(extra["host_environment"])
            click.echo(f"  host env:    {names} (values hidden)")
        for action in extra["actions"]:
            click.echo(f"  action:      {action['name']}: {action['documentation'] or '-'}")


@command("command-line")
@click.argument("name")
@pass_options
def command_line(options: Options, name: str) -> None:
    """The command line that starts service NAME, shell-quoted."""
    loaded = options.loaded()
    for view in show_services(loaded.config):
        if view["name"] == name:
            click.echo(shlex.join(view["argv"]))
            return
    raise _unknown_service(name, loaded.path)


@command("doc")
def doc() -> None:
    """A Markdown reference of every record and field."""
    click.echo(reference_markdown(), nl=False)


@command("schema")
def schema() -> None:
    """A JSON Schema of corral.toml, for editors."""
    click.echo(schema_json())


def _unknown_service(name: str, path: str) -> ConfigError:
    return ConfigError([Problem(f"no service is named {json.dumps(name)}", file=path)])
