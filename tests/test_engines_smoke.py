"""Smoke test: both engines, their fixtures and the busybox image really work."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from engines import free_port, http_get

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_httpd_with_port_mount_env_workdir_user(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Looked up lazily so one broken engine doesn't take the other's test down.
    image = request.getfixturevalue(f"busybox_ref_{engine}")
    www = tmp_path / "www"
    www.mkdir()
    www.chmod(0o755)  # pytest's tmp dirs are 0700; the container runs as uid 1000
    body = f"hello from {engine} {uuid.uuid4().hex}\n"
    (www / "index.html").write_text(body)
    (www / "index.html").chmod(0o644)
    port = free_port()
    name = f"corral-smoke-{engine}-{uuid.uuid4().hex[:12]}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [engine, *args], capture_output=True, text=True, timeout=60, check=False
        )

    try:
        started = run(
            "run", "-d", "--rm", "--name", name,
            "-p", f"127.0.0.1:{port}:8080",
            "-v", f"{www}:/www",
            "--env", "GREETING=hi",
            "--workdir", "/www",
            "--user", "1000",
            image, "httpd", "-f", "-p", "8080", "-h", "/www",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr

        assert http_get(f"http://127.0.0.1:{port}/index.html", timeout=20) == body
        assert http_get(f"http://127.0.0.1:{port}/", timeout=5) == body

        env = run("exec", name, "env")
        assert env.returncode == 0, env.stderr
        assert "GREETING=hi" in env.stdout.splitlines()
        ident = run("exec", name, "sh", "-c", 'echo "$(id -u) $(pwd)"')
        assert ident.stdout.strip() == "1000 /www", ident.stderr
    finally:
        # httpd as PID 1 ignores SIGTERM, and `podman rm -f` would first wait
        # out the 10 s stop timeout; `docker rm -f` kills at once.
        run("rm", "-f", *(["--time", "0"] if engine == "podman" else []), name)
    assert name not in run("ps", "-a", "--format", "{{.Names}}").stdout.split()
