"""``corral image build|load|inspect``: the reproducible image builder at the terminal."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from corral.cli._app import Options, app, pass_options, reports_errors
from corral.config import Config, OciContainer, OciImage, declared_services
from corral.config.services import image_reference
from corral.errors import ImageError, Problem
from corral.image.build import build_image, prepare
from corral.image.content import InputErrors
from corral.image.inspect import inspect_archive
from corral.image.tarball import Progress as ProgressCallback
from corral.paths import state_dir

ProgressEvents = Callable[[dict[str, Any]], None]

PROGRESS_FROM = 64 << 20  # show a bar for inputs of 64 MiB or more


@app.group("image")
def image() -> None:
    """Build, load, inspect and push images made by corral's reproducible builder."""


def find_image(options: Options, name: str) -> tuple[OciImage, str]:
    """The image NAME stands for (``repository:tag`` or a service using it), and the
    directory relative host paths are read from (the configuration file's)."""
    record, base_dir, _ = _find_image(options, name)
    return record, base_dir


@contextmanager
def located_inputs(options: Options, name: str) -> Iterator[None]:
    """Every problem of the image record's inputs (``InputErrors``) as a located
    ``FILE:LINE: container[0].image.files[1]: …`` (exit 2), all at once."""
    try:
        yield
    except InputErrors as errors:
        _, _, where = _find_image(options, name)
        problems = [
            Problem(message, (*where, *_field_path(field))) for field, message in errors.problems
        ]
        raise options.loaded().located(problems) from None


def _field_path(field: str) -> tuple[str | int, ...]:
    """``("image", "files", 2)`` from ``"image.files[2]"``."""
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def _find_image(options: Options, name: str) -> tuple[OciImage, str, tuple[str | int, ...]]:
    loaded = options.loaded()
    known: list[str] = []
    for service in declared_services(loaded.config):
        record = service.record
        if not isinstance(record, OciContainer) or not isinstance(record.image, OciImage):
            continue
        reference = image_reference(record.image)
        known.append(reference)
        if name in (service.name, reference):
            return record.image, os.path.dirname(os.path.abspath(loaded.path)), service.path
    listing = ", ".join(sorted(set(known))) or "none"
    raise ImageError(
        f"{name}: no image record or container service of that name in {loaded.path} "
        f"(images declared: {listing})"
    )


@contextmanager
def progress_bar(total: int) -> Iterator[ProgressCallback | None]:
    if total < PROGRESS_FROM:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("writing layers", total=total)
        yield lambda n: bar.advance(task, n)


def default_output(image_record: OciImage) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", image_record.reference) + ".tar"


@image.command("build")
@click.argument("name")
@click.option("-o", "--output", metavar="FILE", help="Archive to write (default ./REPO_TAG.tar).")
@click.option("--no-sbom", is_flag=True, help="Don't write FILE.spdx.json.")
@pass_options
@reports_errors
def build(options: Options, name: str, output: str | None, no_sbom: bool) -> None:
    """Build NAME's image (repository:tag, or a container service using it) into one
    archive that docker load and podman load both accept."""
    record, base_dir = find_image(options, name)
    if record.build is not None:
        if output is not None:
            raise ImageError(
                f"{record.reference}: a Dockerfile build is built by the engine, into no "
                "archive: -o does not apply"
            )
        config = options.loaded().config
        image_id, built = asyncio.run(dockerfile_build(config, record, base_dir))
        said = "built" if built else "unchanged since its last build: skipped"
        click.echo(f"{record.reference} {image_id} ({config.runtime}, {said})")
        return
    with located_inputs(options, name):
        prepared = prepare(record, base_dir=base_dir)
    for note in prepared[0].notes:
        click.echo(f"note: {note}", err=True)
    target = output or default_output(record)
    with progress_bar(prepared[0].size) as progress:
        result = build_image(
            record,
            target,
            base_dir=base_dir,
            progress=progress,
            prepared=prepared,
            sbom=not no_sbom,
        )
    click.echo(f"{target}: {record.reference} {result.image_id}")
    click.echo(f"  {len(result.layers)} layers, {result.built.size} bytes")
    if result.sbom:
        click.echo(f"  contents: {result.sbom}")


@contextmanager
def build_output() -> Iterator[Callable[[str], None]]:
    """Where a Dockerfile build's lines go: on a terminal, a spinner naming the
    step under way above the lines; else the lines as they come."""
    import sys

    if not sys.stderr.isatty():

        def plain(line: str) -> None:
            sys.stderr.write(line)
            sys.stderr.flush()

        yield plain
        return
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    with console.status("building") as status:

        def shown(line: str) -> None:
            text = line.rstrip("\n")
            if text.strip().lower().startswith("step "):
                status.update(f"building: {text.strip()}")
            console.print(text, style="dim", markup=False)

        yield shown


async def dockerfile_build(config: Config, record: OciImage, base_dir: str) -> tuple[str, bool]:
    """``record``'s Dockerfile built on ``config``'s engine unless unchanged (its
    record bases made present first); ``(image ID, built)``."""
    from corral.engine.build import build as engine_build
    from corral.engine.client import connect
    from corral.engine.endpoint import endpoint_for
    from corral.engine.images import EngineImages, present

    state = state_dir(config.state_dir)
    records = {
        c.image.reference: c.image for c in config.containers if isinstance(c.image, OciImage)
    }
    engine = await connect(endpoint_for(config, config.runtime, state))
    try:

        async def base(reference: str) -> None:
            found = records.get(reference)
            if found is not None and found != record:
                await present(engine, found, state_dir=state, base_dir=base_dir, bases=base)

        with build_output() as output:
            return await engine_build(
                engine, EngineImages(engine), record, state_dir=state, output=output, bases=base
            )
    finally:
        await engine.close()
        if engine.service is not None and engine.service.started:
            await engine.service.stop()


@image.command("load")
@click.argument("name")
@pass_options
@reports_errors
def load(options: Options, name: str) -> None:
    """Build NAME's image and load it into the configured engine, tagged; skipped
    when the engine already has that image ID."""
    record, base_dir = find_image(options, name)
    config = options.loaded().config
    with located_inputs(options, name):
        image_id = asyncio.run(load_into_engine(config, record, base_dir))
    click.echo(f"{record.reference} {image_id} ({config.runtime})")


async def load_into_engine(config: Config, record: OciImage, base_dir: str) -> str:
    """``record`` made present on ``config``'s engine; its image ID. The engine is
    closed afterwards, and a Podman API service started for this load stopped."""
    from corral.engine.client import connect
    from corral.engine.endpoint import endpoint_for
    from corral.engine.images import present

    state = state_dir(config.state_dir)
    engine = await connect(endpoint_for(config, config.runtime, state))
    try:
        return await present(engine, record, state_dir=state, base_dir=base_dir)
    finally:
        await engine.close()
        if engine.service is not None and engine.service.started:
            await engine.service.stop()


@image.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False))
@reports_errors
def inspect(file: str) -> None:
    """Show an image archive's reference, ID, platform, layers, sizes and digests."""
    info = inspect_archive(file)
    click.echo(f"reference:  {info.reference or '-'}")
    click.echo(f"image ID:   {info.image_id or '-'}")
    click.echo(f"platform:   {info.os or '?'}/{info.architecture or '?'}")
    click.echo(f"layers:     {len(info.layers)}, {info.size} bytes")
    for i, layer in enumerate(info.layers):
        click.echo(f"  {i:3d} {layer.digest} {layer.size:>12d}  {layer.comment}")
    for problem in info.problems:
        click.echo(f"problem: {problem}", err=True)
    if info.problems:
        raise ImageError(f"{file}: {len(info.problems)} structural problem(s)")


@image.command("push")
@click.argument("name")
@click.option("--to", "to", metavar="REF", help="Push as REF (tagged first), not as its own name.")
@pass_options
@reports_errors
def push(options: Options, name: str, to: str | None) -> None:
    """Push NAME's corral-built image (repository:tag, or a container service using
    it) to its registry, or to REF; loaded into the engine first when missing.
    The login comes from a [[registry]] record or the user's own files."""
    from corral.cli.progress import TransferProgress
    from corral.config.reference import ReferenceError, parse_reference

    record, base_dir = find_image(options, name)
    target = to or record.reference
    try:
        if parse_reference(target).digest is not None:
            raise ImageError(f"--to {target}: a push names a tag, not a digest")
    except ReferenceError as error:
        raise ImageError(f"--to: {error}") from None
    config = options.loaded().config
    with TransferProgress("pushed", target) as progress:
        digest = asyncio.run(push_from_engine(config, record, base_dir, target, progress))
    progress.summary(digest)


async def push_from_engine(
    config: Config, record: OciImage, base_dir: str, target: str, progress: ProgressEvents
) -> str | None:
    """``record`` made present on the engine, tagged ``target`` when that is
    another name, and pushed; the manifest digest the engine reports."""
    from corral.engine.client import connect
    from corral.engine.credentials import Credentials
    from corral.engine.endpoint import endpoint_for
    from corral.engine.images import EngineImages, present
    from corral.engine.pull import NO_AUTH, push
    from corral.engine.registry import reference_of

    state = state_dir(config.state_dir)
    engine = await connect(endpoint_for(config, config.runtime, state))
    try:
        image_id = await present(engine, record, state_dir=state, base_dir=base_dir)
        if target != record.reference:
            await EngineImages(engine).tag(image_id, target)
        credentials = Credentials(config.registries, config.runtime)
        auth = await credentials.header_for(reference_of(target).domain)
        return await push(engine, target, auth=auth or NO_AUTH, progress=progress)
    finally:
        await engine.close()
        if engine.service is not None and engine.service.started:
            await engine.service.stop()
