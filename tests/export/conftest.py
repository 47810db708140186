"""Fixtures of the export tests that run the exports for real: a registry on
this helper's ports (24050-24099) and the images corral pushed to it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_server import RegistryServer, RegistryUnavailable, free_port

PORTS = (24050, 24100)


def must(what: str) -> str:
    path = shutil.which(what)
    if path is None:
        message = f"{what} is not installed (scripts/setup-host installs it)"
        if os.geteuid() == 0 or os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def export_registry() -> Iterator[RegistryServer]:
    for tool in ("docker-registry", "htpasswd"):
        must(tool)
    root = Path(tempfile.mkdtemp(prefix="export17-registry-"))
    try:
        server = RegistryServer(root, free_port(*PORTS))
        server.start()
    except RegistryUnavailable as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        listed = subprocess.run(
            ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        for name in listed.stdout.split():
            if name.startswith((server.host + "/", "localhost/export17")):
                subprocess.run(["docker", "rmi", "-f", name], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
