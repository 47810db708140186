"""`corral check/show/command-line` on valid configurations."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from click.testing import CliRunner

from corral.cli import app

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
[[container]]
image = "registry:5000/team/db:1.2"
host_environment = [["DB_PASSWORD", "hunter2"], "TOKEN=s3cret"]
extra_arguments = ["--env", "DB_PASSWORD"]

[[container]]
provision = "web"
image = "localhost/web:1"
requirement = ["docker-db"]
ports = ["8080:80"]
command = ["httpd", "-f"]

[[container.actions]]
name = "hello"
command = ["echo", "hi there"]
documentation = "Says hi."
"""


def invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    config = tmp_path / "corral.toml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["-c", str(config), *args], catch_exceptions=False)
    # notes (an engine that does not answer…) go to stderr; problems too
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_check_ok(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, "check")
    assert code == 0
    assert output.endswith(": ok (2 services)\n")


def test_show_json_in_dependency_order(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, "show", "--json")
    assert code == 0
    views = json.loads(output)
    assert [v["name"] for v in views] == ["docker-db", "web"]
    argv = views[1].pop("argv")
    assert views[1] == {
        "name": "web",
        "kind": "container",
        "image": "localhost/web:1",
        "requirement": ["docker-db"],
        "auto_start": True,
        "respawn": False,
        "connect_argv": [],
        "seed_argv": ["docker", "run", "--rm", "--name", "web", "-p", "8080:80",
                      "localhost/web:1", "httpd", "-f"],
    }  # fmt: skip
    # what runs: the create, with corral's labels (the hash is this host's)
    assert argv[:7] == ["docker", "create", "--name", "web", "-p", "8080:80", "--label"]
    assert argv[7] == "corral.service=web" and argv[9].startswith("corral.config-hash=")
    assert argv[-2:] == ["httpd", "-f"]


def test_show_hides_secrets(tmp_path: Path) -> None:
    for args in (
        ("show",),
        ("show", "--json"),
        ("show", "docker-db"),
        ("command-line", "docker-db"),
    ):
        code, output = invoke(tmp_path, *args)
        assert code == 0
        assert "hunter2" not in output and "s3cret" not in output
    _, output = invoke(tmp_path, "show", "docker-db")
    assert "host env:    DB_PASSWORD, TOKEN (values hidden)" in output


def test_show_lists_actions(tmp_path: Path) -> None:
    _, output = invoke(tmp_path, "show", "web")
    assert "action:      hello: Says hi." in output


def test_command_line_is_shell_quoted(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, "command-line", "docker-db", "--seed")
    assert code == 0
    assert shlex.split(output) == [
        "docker", "run", "--rm", "--name", "docker-db", "--env", "DB_PASSWORD",
        "registry:5000/team/db:1.2",
    ]  # fmt: skip
    code, output = invoke(tmp_path, "command-line", "docker-db")
    assert code == 0
    argv = shlex.split(output)
    assert argv[:6] == [
        "docker",
        "create",
        "--name",
        "docker-db",
        "--label",
        "corral.service=docker-db",
    ]
    assert argv[6] == "--label" and argv[7].startswith("corral.config-hash=")
    assert argv[8] == "--label" and argv[9].startswith("corral.instance=/")
    assert argv[10:] == ["--env", "DB_PASSWORD", "registry:5000/team/db:1.2"]


def test_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, "command-line", "nope")
    assert code == 2
    assert 'no service is named "nope"' in output


def test_bundled_examples_check(tmp_path: Path) -> None:
    for example in ("corral.toml", "corral.py", "processes.toml"):
        result = CliRunner().invoke(app, ["-c", str(ROOT / "examples" / example), "check"])
        assert result.exit_code == 0, result.output


def test_toml_and_python_examples_agree() -> None:
    def shown(name: str) -> object:
        result = CliRunner().invoke(app, ["-c", str(ROOT / "examples" / name), "show", "--json"])
        return json.loads(result.stdout)

    assert shown("corral.toml") == shown("corral.py")
