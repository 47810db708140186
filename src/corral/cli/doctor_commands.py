"""``corral doctor``: the host's preflight for the user and the declared services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from corral.cli._app import Options, command, pass_options
from corral.errors import ConfigError, CorralError

if TYPE_CHECKING:
    from corral.doctor import Finding


def doctor_findings(options: Options) -> list[Finding]:
    """The findings for the configuration (none found: the user's checks only)."""
    from corral.doctor import diagnose

    try:
        loaded = options.loaded()
    except ConfigError as error:
        if options.config_path is not None or not _none_found(error):
            raise
        return diagnose(None)
    return diagnose(loaded)


def _none_found(error: ConfigError) -> bool:
    return any(p.message.startswith("no configuration found") for p in error.problems)


def refuse_on_errors(options: Options) -> None:
    """Print the doctor's findings and fail (exit 1) when any is an error: what
    ``up`` (as any user but root) and ``check --host`` do before anything starts."""
    from corral.doctor import diagnose, errors, report_text

    findings = diagnose(options.loaded())
    if findings:
        click.echo(report_text(findings), err=True)
    bad = errors(findings)
    if bad:
        raise CorralError(f"corral doctor found {len(bad)} error(s) on this host; fix them first")


@command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_options
def doctor(options: Options, as_json: bool) -> None:
    """Check the host for the user and the declared services (rootless id ranges,
    id mappers, network helper, ports, cgroup limits, runtime directory, boot
    start); each finding names the file or setting and the fix. Exit 1 on errors."""
    from corral.doctor import errors, report_json, report_text

    findings = doctor_findings(options)
    click.echo(report_json(findings) if as_json else report_text(findings))
    if errors(findings):
        raise SystemExit(1)
