"""``corral lock [--check]`` and ``corral update [NAME…] [--dry-run]``: pinning
registry images by digest in ``corral.lock``, and moving them."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from corral.cli._app import EXIT_FAILED, Options, command, pass_options
from corral.cli.service_commands import timeout_option
from corral.errors import CorralError
from corral.paths import find_config

if TYPE_CHECKING:  # the records are imported by the commands that read them:
    # `corral update` asks the daemon, which has them already
    from corral.config import Config
    from corral.config.lockfile import Lock, Pin


async def _resolve(config: Config) -> tuple[list[Pin], list[str]]:
    from corral.paths import state_dir
    from corral.supervisor.locking import resolve_pins

    return await resolve_pins(config, state_dir(config.state_dir))


def current_drift(config_path: str) -> tuple[Lock | None, list[str], list[str]]:
    """(the lock, its drift lines, the problems of images that could not be
    resolved) for the configuration at ``config_path``."""
    from corral.config import load
    from corral.config.lockfile import lock_path, locked, read_lock
    from corral.supervisor.locking import drift

    config = load(config_path, lock=False).config
    lock = read_lock(lock_path(config_path))
    if lock is not None:
        locked(config, lock)  # a lock pinning images no service uses is an error
    pins, problems = asyncio.run(_resolve(config))
    return lock, [str(d) for d in drift(lock, pins)], problems


@command("lock")
@click.option("--check", is_flag=True, help="Only compare: exit 1 when a tag moved (for CI).")
@pass_options
def lock(options: Options, check: bool) -> None:
    """Pin every image by digest in corral.lock, beside the configuration: a string
    image by its registry's manifest digest, an image record by its image ID."""
    from corral.config import load
    from corral.config.lockfile import lock_path, write_lock

    path = find_config(options.config_path)
    if check:
        held, lines, problems = current_drift(path)
        for problem in problems:
            click.echo(f"corral: {problem}", err=True)
        if held is None:
            click.echo(f"corral: {lock_path(path)}: no lock file (run `corral lock`)", err=True)
            sys.exit(EXIT_FAILED)
        for line in lines:
            click.echo(line)
        if lines or problems:
            sys.exit(EXIT_FAILED)
        click.echo(f"{lock_path(path)}: every image is as locked")
        return
    config = load(path, lock=False).config
    pins, problems = asyncio.run(_resolve(config))
    if problems:
        for problem in problems:
            click.echo(f"corral: {problem}", err=True)
        raise CorralError(f"{len(problems)} image(s) could not be resolved; {lock_path(path)} "
                          "left as it was")  # fmt: skip
    target = lock_path(path)
    write_lock(target, pins)
    for pin in sorted(pins, key=lambda p: p.reference):
        click.echo(f"{pin.reference} {pin.value}")
    click.echo(f"{os.path.relpath(target)}: {len(pins)} image(s) pinned")


@command("update")
@click.argument("names", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Only say what would move.")
@timeout_option("update")
@pass_options
def update(options: Options, names: tuple[str, ...], dry_run: bool, timeout: float) -> None:
    """Move services (NAMEs, or every one with a registry image) to the newest digest
    of their tag, one at a time in dependency order; roll back any that does not
    hold (healthy, or running for update_settle seconds); rewrite corral.lock with
    those that held."""
    from corral.cli.service_commands import _call, _config_path, _transfers_shown

    with _transfers_shown() as transfers:
        answer = _call(
            options, "update", timeout, transfers, config=_config_path(options, validate=False),
            names=list(names), dry_run=dry_run,
        )  # fmt: skip
    outcomes: list[dict[str, Any]] = answer["outcomes"]
    _table(outcomes)
    failed = [
        o for o in outcomes if not str(o["result"]).startswith(("updated", "unchanged", "would"))
    ]
    if failed:
        raise CorralError(
            f"{len(failed)} service(s) not updated: {', '.join(o['service'] for o in failed)}"
        )


def _short(digest: Any) -> str:
    return str(digest)[:19] if digest else "-"


def _table(outcomes: list[dict[str, Any]]) -> None:
    columns = ("service", "digest", "result")
    rows = [
        (str(o["service"]), f"{_short(o['old'])} → {_short(o['new'])}", str(o["result"]))
        for o in outcomes
    ]
    if not rows:
        click.echo("no container service with a registry image")
        return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
