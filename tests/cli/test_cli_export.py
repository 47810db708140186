"""``corral export`` at the terminal: files with -o, warnings on stderr naming
service, field and target, --strict exits 1 writing nothing, bad flags exit 2,
secrets nowhere, and `status`/`up` never import the exporters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from corral.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "corral.toml")
EVERY = str(ROOT / "tests" / "render" / "export_cases" / "every_field.toml")


def test_export_compose_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["-c", EXAMPLE, "export", "compose", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "compose.yaml").read_text()
    assert "  web:\n    image: localhost/corral-demo:1\n" in text
    assert "warning: compose: web: actions: declared actions are corral's own" in result.stderr


def test_export_to_stdout_and_image_mapping() -> None:
    result = CliRunner().invoke(
        app,
        ["-c", EXAMPLE, "export", "compose", "--image",
         "localhost/corral-demo:1=127.0.0.1:24050/corral-demo:1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("image: 127.0.0.1:24050/corral-demo:1") == 2
    assert "corral builds" not in result.stdout.split("poller:")[0].split("web:")[1]


def test_strict_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["-c", EVERY, "export", "compose", "--strict", "-o", str(out)])
    assert result.exit_code == 1
    assert "with --strict; nothing written" in result.stderr
    assert "warning: compose: export17-db: log_file:" in result.stderr
    assert not out.exists()


def test_bad_image_flag_is_a_usage_error() -> None:
    for bad in ("nothing-to-map", "a=Not A Reference"):
        result = CliRunner().invoke(app, ["-c", EXAMPLE, "export", "compose", "--image", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "--image" in result.output


def test_invalid_config_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "corral.toml"
    bad.write_text('[[container]]\nimage = "busybox"\nports = ["nope"]\n')
    result = CliRunner().invoke(app, ["-c", str(bad), "export", "compose"])
    assert result.exit_code == 2
    assert f"{bad}:3: container[0].ports[0]:" in result.stderr


def test_status_and_check_do_not_import_the_exporters(tmp_path: Path) -> None:
    heavy = ("corral.render.export", "yaml")
    probe = (
        "import sys\n"
        "from corral.cli import main\n"
        "sys.argv = ['corral', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        f"print('LOADED', [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)\n"
    )
    socket = str(tmp_path / "none.sock")
    for args in (["-c", EXAMPLE, "check"], ["--socket", socket, "status"], ["--help"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
        )
        assert "LOADED []" in done.stderr, (args, done.stderr)
