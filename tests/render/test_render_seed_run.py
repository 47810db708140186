"""The rendered command line really runs, the seed's way (a foreground
`<runtime> run --rm`), on the real dockerd and on Podman."""

from __future__ import annotations

import shlex
import subprocess
import uuid
from pathlib import Path

import engines
import pytest
from click.testing import CliRunner

from corral.cli import app

pytestmark = pytest.mark.engine


def _config(tmp_path: Path, runtime: str, image: str, name: str, port: int) -> Path:
    www = tmp_path / "www"
    www.mkdir(mode=0o755)
    www.chmod(0o755)
    index = www / "index.html"
    index.write_text(f"hello from {name}\n")
    index.chmod(0o644)
    config = tmp_path / "corral.toml"
    config.write_text(
        f'runtime = "{runtime}"\n'
        "[[container]]\n"
        f'image = "{image}"\n'
        f'provision = "{name}"\n'
        'command = ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
        f'ports = [["127.0.0.1:{port}", "8080"]]\n'
        f'volumes = [["{www}", "/www"]]\n'
        'environment = ["GREETING=hi", ["LANG", "C.UTF-8"]]\n'
        'workdir = "/www"\n'
        'container_user = "1000"\n'
    )
    return config


@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_rendered_run_serves_and_sets_env(
    tmp_path: Path, runtime: str, request: pytest.FixtureRequest
) -> None:
    image = request.getfixturevalue(f"busybox_ref_{runtime}")
    name = f"corral-render-{uuid.uuid4().hex[:8]}"
    port = engines.free_port()
    config = _config(tmp_path, runtime, image, name, port)
    result = CliRunner().invoke(app, ["-c", str(config), "command-line", name, "--seed"])
    assert result.exit_code == 0, result.output
    argv = shlex.split(result.output)
    assert argv[:5] == [runtime, "run", "--rm", "--name", name]
    foreground = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert engines.http_get(f"http://127.0.0.1:{port}/index.html", timeout=30) == (
            f"hello from {name}\n"
        )
        inside = subprocess.run(
            [runtime, "exec", name, "sh", "-c", "env; id -u; pwd"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert inside.returncode == 0, inside.stderr
        lines = inside.stdout.splitlines()
        assert "GREETING=hi" in lines
        assert "LANG=C.UTF-8" in lines
        assert lines[-2:] == ["1000", "/www"]
    finally:
        remove = [runtime, "rm", "-f", name]
        if runtime == "podman":
            remove[2:2] = ["--time", "0"]
        subprocess.run(remove, capture_output=True, timeout=60)
        foreground.wait(timeout=30)
