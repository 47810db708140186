"""All of ``corral doctor``'s checks for one user and one configuration, and
their two reports (text for a person, JSON for scripts)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from corral.doctor import declared, user
from corral.doctor._finding import Finding, errors
from corral.doctor._host import Host
from corral.errors import Problem, format_path

if TYPE_CHECKING:
    from corral.config import Loaded


def diagnose(loaded: Loaded | None, host: Host | None = None) -> list[Finding]:
    """Every finding for ``host``'s user (the calling one by default) running
    ``loaded`` (None: no configuration, the user's checks only); errors first."""
    host = host or Host()
    runtime = loaded.config.runtime if loaded is not None else "podman"
    findings: list[Finding] = []
    if loaded is not None and not (runtime == "docker" and host.uid != 0):
        findings += user.engine_cli(host, runtime)
    if host.uid != 0:
        findings += user.runtime_dir(host)
        findings += user.id_ranges(host)
        findings += user.id_mappers(host)
        findings += user.network_helper(host)
        if runtime == "docker":
            findings += user.docker_rootless(host)
        findings += user.linger(host)
        if loaded is not None:
            findings += _located(loaded, declared.low_ports(loaded.config, host), "port")
            findings += _located(loaded, declared.unenforced_limits(loaded.config, host), "cgroup")
    return sorted(findings, key=lambda f: f.level != "error")


def _located(
    loaded: Loaded, found: Iterable[tuple[Problem, str, str]], check: str
) -> list[Finding]:
    """A finding for each (problem, subject, fix), at its file, line and field."""
    from corral.config.loader import locate

    items = list(found)
    if not items:
        return []
    placed = locate(loaded, [problem for problem, _, _ in items])
    out: list[Finding] = []
    for problem, (_, subject, fix) in zip(placed, items, strict=True):
        where = problem.file or loaded.path
        if problem.line:
            where += f":{problem.line}"
        out.append(
            Finding("error", check, subject, problem.message, fix,
                    where=f"{where}: {format_path(problem.path)}")
        )  # fmt: skip
    return out


def report_text(findings: list[Finding], host: Host | None = None) -> str:
    host = host or Host()
    if not findings:
        mode = "root" if host.uid == 0 else f"{host.user} (uid {host.uid}, rootless)"
        return f"ok: nothing to fix for {mode}"
    count = len(errors(findings))
    lines = [str(f) for f in findings]
    lines.append(f"{count} error(s), {len(findings) - count} warning(s)")
    return "\n".join(lines)


def report_json(findings: list[Finding], host: Host | None = None) -> str:
    host = host or Host()
    return json.dumps(
        {
            "ok": not errors(findings),
            "user": host.user,
            "uid": host.uid,
            "rootless": host.uid != 0,
            "findings": [f.as_json() for f in findings],
        },
        indent=2,
    )
