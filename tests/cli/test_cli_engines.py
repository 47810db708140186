"""`show` and `command-line` send a container's line to the engine corral runs
(the `[docker]` or `[podman]` table's socket), and print the daemon's own line."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from corral.cli import app


@pytest.mark.parametrize(
    ("table", "runtime", "prefix"),
    [
        (
            '[docker]\nhost = "unix:///run/d2/docker.sock"\n'
            '[containerd]\naddress = "/run/d2/c.sock"\n',
            "docker",
            ["docker", "-H", "unix:///run/d2/docker.sock"],
        ),
        ('[podman]\nhost = "unix:///run/p2/podman.sock"\n', "podman", ["podman", "--url", "unix:///run/p2/podman.sock"]),
    ],
)  # fmt: skip
def test_show_and_command_line_go_to_the_engine_corral_runs(
    tmp_path: Path, table: str, runtime: str, prefix: list[str]
) -> None:
    config = tmp_path / "corral.toml"
    config.write_text(
        f'runtime = "{runtime}"\n{table}[[container]]\nimage = "app"\nprovision = "app"\n'
    )
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp_path / "state")}
    env.pop("DOCKER_HOST", None)
    env.pop("CONTAINER_HOST", None)
    shown = CliRunner().invoke(app, ["-c", str(config), "show", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    views = {view["name"]: view for view in json.loads(shown.stdout)}
    assert views["app"]["argv"][:3] == prefix
    engine = "dockerd" if runtime == "docker" else "podman"
    assert views["app"]["requirement"] == [engine]
    line = CliRunner().invoke(app, ["-c", str(config), "command-line", "app"], env=env)
    assert line.exit_code == 0, line.output
    assert shlex.split(line.stdout)[:3] == prefix
    daemon = CliRunner().invoke(app, ["-c", str(config), "command-line", engine], env=env)
    assert daemon.exit_code == 0, daemon.output
    assert shlex.split(daemon.stdout) == views[engine]["argv"]
