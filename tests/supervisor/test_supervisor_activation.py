"""Activation: accounts for the engine CLI, engine state directories,
Singularity's directories and setuid helpers — planned, printed, applied."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from corral.cli import app


@pytest.mark.host  # useradd, groupadd (deleted again at the end)
@pytest.mark.skipif(os.geteuid() != 0, reason="creating accounts needs root")
def test_activate_creates_missing_accounts_and_directories(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    user, group = f"corral-u-{tag}", f"corral-g-{tag}"
    package = tmp_path / "singularity"
    helpers = package / "libexec" / "singularity" / "bin"
    helpers.mkdir(parents=True)
    for helper in ("action", "mount", "start"):
        (helpers / f"{helper}-suid").write_text("#!/bin/sh\n")
    root = tmp_path / "root"
    config = tmp_path / "corral.toml"
    config.write_text(
        f'[[container]]\nimage = "busybox"\nuser = "{user}"\ngroup = "{group}"\n'
        f'[docker]\ndata_root = "{tmp_path / "docker"}"\n'
        f'[singularity]\npackage = "{package}"\n'
    )
    under = ["--root", str(root)]
    try:
        dry = CliRunner().invoke(app, ["-c", str(config), "activate", "--dry-run", *under])
        assert dry.exit_code == 0, dry.output
        assert f"would: groupadd --system {group}" in dry.output
        assert f"would: useradd --system --gid {group} --home-dir /var/empty" in dry.output
        assert f"mkdir -m 755 {root}/var/singularity/mnt/overlay" in dry.output
        assert "install -m 4755" in dry.output
        assert not (root / "var").exists()  # a dry run changes nothing

        done = CliRunner().invoke(app, ["-c", str(config), "activate", *under])
        assert done.exit_code == 0, done.output
        entry = subprocess.run(["getent", "passwd", user], capture_output=True, text=True)
        fields = entry.stdout.strip().split(":")
        assert fields[5] == "/var/empty" and fields[6].endswith("nologin")
        for name in ("container", "final", "overlay", "session"):
            mount = root / "var" / "singularity" / "mnt" / name
            assert stat.S_IMODE(mount.stat().st_mode) == 0o755
        helper = root / "run" / "corral" / "setuid" / "singularity-mount-helper"
        assert stat.S_IMODE(helper.stat().st_mode) == 0o4755
        docker_root = root / str(tmp_path / "docker").lstrip("/")
        assert stat.S_IMODE(docker_root.stat().st_mode) == 0o710
        assert not (tmp_path / "docker").exists()  # under --root only

        again = CliRunner().invoke(app, ["-c", str(config), "activate", *under])
        assert again.exit_code == 0, again.output
        assert again.output.strip() == "nothing to do"
    finally:
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
