"""Commands that only read the configuration: check, show, command-line, doc, schema."""

from __future__ import annotations

import json
import shlex

import click

from corral.cli._app import Options, command, pass_options
from corral.config import Declared, Loaded, declared_services
from corral.config.docs import reference_markdown, schema_json
from corral.errors import ConfigError, Problem
from corral.render import seed_service_argv, service_argv, show_services
from corral.render.services import Labels, service_connects, service_details


@command("check")
@click.option(
    "--host", "on_host", is_flag=True,
    help="Also run `corral doctor`'s checks of this host (fail on its errors).",
)  # fmt: skip
@pass_options
def check(options: Options, on_host: bool) -> None:
    """Validate the configuration; print every problem as FILE:LINE: field: message,
    and a warning for each extra argument that a first-class field says."""
    from corral.config.hostfiles import host_problems

    loaded = options.loaded()
    problems = host_problems(loaded.config)
    if problems:
        raise loaded.located(problems)
    if on_host:
        from corral.cli.doctor_commands import refuse_on_errors

        refuse_on_errors(options)
    for warning in _duplicated_arguments(loaded):
        click.echo(str(warning), err=True)
    count = len(declared_services(loaded.config))
    click.echo(f"{loaded.path}: ok ({count} service{'s' if count != 1 else ''})")


def _duplicated_arguments(loaded: Loaded) -> list[Problem]:
    """A located warning for each extra argument that duplicates a first-class
    field. The flags come from the run options' table (render), so the check
    lives here, above both config and render."""
    from corral.config.loader import locate
    from corral.render.spec import duplicated_arguments

    found: list[Problem] = []
    for i, container in enumerate(loaded.config.containers):
        for j, flag, name in duplicated_arguments(container.extra_arguments):
            found.append(
                Problem(
                    f"warning: {flag} duplicates the first-class field {name}; "
                    f"declare {name} instead (it is validated and stays on the API path)",
                    ("containers", i, "extra_arguments", j),
                )
            )
    return locate(loaded, found)


def _exact(loaded: Loaded, services: list[Declared]) -> tuple[Labels, tuple[str, ...]]:
    """corral's labels on each container of ``services`` (exact hash), the CLI
    options that reach the engine; notes on stderr for what could not be exact."""
    import asyncio

    from corral.engine.endpoint import EndpointError, endpoint_for
    from corral.paths import state_dir
    from corral.supervisor.invocation import exact_labels

    config = loaded.config
    directory = state_dir(config.state_dir)
    try:
        engine_options = endpoint_for(config, config.runtime, directory).cli
    except EndpointError as error:
        click.echo(f"note: {error}", err=True)
        engine_options = ()
    exact = asyncio.run(exact_labels(config, services, directory))
    for note in exact.notes:
        click.echo(f"note: {note}", err=True)
    return exact.labels, engine_options


@command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def show(options: Options, name: str | None, as_json: bool) -> None:
    """The resolved services: name, kind, requirement, the command line corral runs
    (argv) and the seed's (seed_argv), in dependency order."""
    loaded = options.loaded()
    services = declared_services(loaded.config)
    if name is not None:
        services = [s for s in services if s.name == name]
        if not services:
            raise _unknown_service(name, loaded.path)
    labels, engine_options = _exact(loaded, services)
    wanted = {s.name for s in services}
    views = [v for v in show_services(loaded.config, labels, engine_options) if v["name"] in wanted]
    if as_json:
        click.echo(json.dumps(views, indent=2))
        return
    details = {s.name: service_details(s) for s in services}
    for view in views:
        extra = details[view["name"]]
        click.echo(f"{view['name']} ({view['kind']})")
        if view["image"]:
            click.echo(f"  image:       {view['image']}")
        click.echo(f"  requirement: {', '.join(view['requirement']) or '-'}")
        click.echo(f"  auto_start:  {str(view['auto_start']).lower()}")
        click.echo(f"  respawn:     {str(view['respawn']).lower()}")
        click.echo(f"  argv:        {shlex.join(view['argv'])}")
        for connect in view["connect_argv"]:
            click.echo(f"  then:        {shlex.join(connect)}")
        if view["seed_argv"] != view["argv"]:
            click.echo(f"  seed argv:   {shlex.join(view['seed_argv'])}")
        if extra["host_environment"]:
            names = ", ".join(extra["host_environment"])
            click.echo(f"  host env:    {names} (values hidden)")
        for action in extra["actions"]:
            click.echo(f"  action:      {action['name']}: {action['documentation'] or '-'}")


@command("command-line")
@click.argument("name")
@click.option("--seed", is_flag=True, help="The seed's line (`run --rm` in the foreground).")
@pass_options
def command_line(options: Options, name: str, seed: bool) -> None:
    """The command line that starts service NAME as corral runs it (for a container:
    its create, labels and hash exact), shell-quoted; with --seed, the seed's."""
    loaded = options.loaded()
    service = next((s for s in declared_services(loaded.config) if s.name == name), None)
    if service is None:
        raise _unknown_service(name, loaded.path)
    if seed:
        click.echo(shlex.join(seed_service_argv(loaded.config, service)))
        return
    labels, engine_options = _exact(loaded, [service])
    argv = service_argv(loaded.config, service, labels.get(name), engine_options)
    click.echo(shlex.join(argv))
    for connect in service_connects(loaded.config, service, engine_options):
        click.echo(shlex.join(connect))


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
