"""``corral export compose|kubernetes|systemd|quadlet``: the declarations as
another engine's files. The renderers are pure (``corral.render.export``); this
command writes their files (``-o DIR``, else standard output) and prints each
warning on stderr; ``--strict`` turns any warning into exit 1, writing nothing."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

import click

from corral.cli._app import EXIT_FAILED, Options, app, pass_options, reports_errors


@app.group("export")
def export_group() -> None:
    """Write the same declarations for Compose/Swarm, Kubernetes, systemd or Quadlet."""


def _images(values: tuple[str, ...]) -> dict[str, str]:
    from corral.config.reference import ReferenceError, parse_reference

    images: dict[str, str] = {}
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source or not target:
            raise click.BadParameter(
                f"{value!r}: give FROM=TO (FROM an image reference or a service name)",
                param_hint="--image",
            )
        try:
            parse_reference(target)
        except ReferenceError as error:
            raise click.BadParameter(f"{target!r}: {error}", param_hint="--image") from None
        images[source] = target
    return images


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(
        (
            click.option(
                "-o", "--output", "output", metavar="DIR", help="Write the files into DIR "
                "(created if missing); default: standard output."
            ),
            click.option("--strict", is_flag=True, help="Exit 1 on any warning, writing nothing."),
            click.option(
                "--image", "images", metavar="FROM=TO", multiple=True,
                help="Name image FROM (a reference or a service) as TO: where `corral image "
                "push NAME --to TO` put a corral-built image.",
            ),
        )
    ):  # fmt: skip
        function = decorator(function)
    return function


def _run(options: Options, target: str, output: str | None, strict: bool, **settings: Any) -> None:
    from corral.render.export import Settings, export

    loaded = options.loaded()
    config = loaded.config
    defaults = {
        "runtime_path": shutil.which(config.runtime) or f"/usr/bin/{config.runtime}",
        "corral_path": shutil.which("corral") or os.path.abspath(sys.argv[0]),
        "config_path": os.path.abspath(loaded.path),
    }
    exported = export(config, target, Settings(**{**defaults, **settings}))  # type: ignore[arg-type]
    for warning in exported.warnings:
        click.echo(str(warning), err=True)
    if strict and exported.warnings:
        click.echo(
            f"corral: export {target}: {len(exported.warnings)} warning(s) with --strict; "
            "nothing written",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    if output is None:
        many = len(exported.files) > 1
        for name, text in exported.files.items():
            if many:
                click.echo(f"# ---- {name}")
            click.echo(text, nl=False)
        return
    os.makedirs(output, exist_ok=True)
    for name, text in exported.files.items():
        path = os.path.join(output, name)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    click.echo(f"{output}: {len(exported.files)} file(s)", err=True)


@export_group.command("compose")
@_common
@click.option("--swarm", is_flag=True, help="A stack for `docker stack deploy` (deploy:, "
              "ports in mode: host); what Swarm ignores is a warning.")  # fmt: skip
@pass_options
@reports_errors
def compose(
    options: Options, output: str | None, strict: bool, images: tuple[str, ...], swarm: bool
) -> None:
    """One compose file (compose.yaml) with every container service."""
    _run(options, "compose", output, strict, images=_images(images), swarm=swarm)


@export_group.command("kubernetes")
@_common
@click.option("--namespace", metavar="NS", help="Put every object in namespace NS (and write it).")
@click.option("--pvc", is_flag=True, help="Bind mounts as PersistentVolumeClaims, not hostPath.")
@pass_options
@reports_errors
def kubernetes(
    options: Options,
    output: str | None,
    strict: bool,
    images: tuple[str, ...],
    namespace: str | None,
    pvc: bool,
) -> None:
    """Per container a Deployment (a Job for a one_shot), a Service, a Secret with
    empty values, claims: NAME.yaml each."""
    _run(options, "kubernetes", output, strict, images=_images(images), namespace=namespace,
         pvc=pvc)  # fmt: skip


@export_group.command("systemd")
@_common
@click.option("--user", is_flag=True, help="User units (systemctl --user), for rootless engines.")
@pass_options
@reports_errors
def systemd(
    options: Options, output: str | None, strict: bool, images: tuple[str, ...], user: bool
) -> None:
    """One unit per service, in the shape NixOS's oci-containers writes, and a
    unit for corral's own daemon."""
    _run(options, "systemd", output, strict, images=_images(images), user=user)


@export_group.command("quadlet")
@_common
@pass_options
@reports_errors
def quadlet(options: Options, output: str | None, strict: bool, images: tuple[str, ...]) -> None:
    """Podman Quadlet files (.container, .network, .volume) for Podman 5."""
    _run(options, "quadlet", output, strict, images=_images(images))
