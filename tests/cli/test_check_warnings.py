"""``corral check`` warns, one located line each and exit 0, about extra
arguments that say what a first-class field says (issue 15, item 9)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from corral.cli import app


def test_check_warns_about_extra_arguments_that_duplicate_fields(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text(
        '[[container]]\nimage = "a"\n'
        'extra_arguments = ["--memory", "1g",\n  "--read-only", "--gpus", "all"]\n'
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    warnings = result.stderr.strip().splitlines()
    assert warnings == [
        f"{config}:3: container[0].extra_arguments[0]: warning: --memory duplicates the "
        "first-class field memory; declare memory instead (it is validated and stays on the "
        "API path)",
        f"{config}:4: container[0].extra_arguments[2]: warning: --read-only duplicates the "
        "first-class field read_only; declare read_only instead (it is validated and stays on "
        "the API path)",
    ]
    assert result.stdout == f"{config}: ok (1 service)\n"


def test_check_warns_in_a_python_configuration(tmp_path: Path) -> None:
    config = tmp_path / "corral.py"
    config.write_text(
        "from corral.config import Config, OciContainer\n"
        "config = Config(containers=[\n"
        "    OciContainer(image='a', extra_arguments=['--cap-drop', 'ALL']),\n"
        "])\n"
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        f"{config}:3: containers[0].extra_arguments[0]: warning: --cap-drop duplicates the "
        "first-class field cap_drop"
    )


def test_check_is_quiet_without_duplicates(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text('[[container]]\nimage = "a"\nextra_arguments = ["--gpus", "all"]\n')
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == ""
