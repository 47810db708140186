"""Boot start as a user (issue 20, item 4): contrib/corral-user.service is a
valid systemd user unit (``systemd-analyze verify --user``), and the command
it runs — as a rootless user, with the configuration in
``$XDG_CONFIG_HOME/corral/corral.toml`` — tells ``$NOTIFY_SOCKET`` READY=1
once serving and STOPPING=1 on SIGTERM (its ``Type=notify``)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from rootless_users import IMAGE, RootlessUser, view

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "corral-user.service"


def _values(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines()
            if line.startswith(f"{key}=")]  # fmt: skip


@pytest.mark.parametrize("scope", ["--user", "--system"])
def test_the_user_unit_verifies(tmp_path: Path, scope: str) -> None:
    unit = tmp_path / "corral.service"  # installed as ~/.config/systemd/user/corral.service
    unit.write_text(UNIT.read_text())
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}  # the user manager's, for --user
    res = subprocess.run(["systemd-analyze", "verify", scope, str(unit)],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), (
        res.stdout + res.stderr
    )
    assert _values("Type") == ["notify"]
    assert _values("WantedBy") == ["default.target"]


def test_the_units_command_notifies_as_a_rootless_user(rl_user: RootlessUser) -> None:
    config_home = rl_user.home / ".config"
    rl_user.write(
        ".config/corral/corral.toml",
        f'''
runtime = "podman"
[[container]]
provision = "rl-boot"
image = "{IMAGE}"
command = ["sleep", "600"]
stop_timeout = 1
''',
    )
    # found without -c: ./corral.toml is absent, $XDG_CONFIG_HOME/corral/corral.toml is there
    check = rl_user.corral("check")
    assert check.returncode == 0 and str(config_home / "corral/corral.toml") in check.stdout
    notify_path = rl_user.runtime_dir / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    os.chown(notify_path, rl_user.uid, rl_user.gid)
    listener.settimeout(60)
    (exec_start,) = _values("ExecStart")
    argv = shlex.split(exec_start.replace("%E", str(config_home)))
    assert argv[:2] == ["/usr/bin/env", "corral"]
    command = [view().python, "-m", "corral", *argv[2:]]
    env = {"NOTIFY_SOCKET": str(notify_path), "XDG_CONFIG_HOME": str(config_home)}
    process = subprocess.Popen(rl_user.argv(command, env), cwd=str(rl_user.home),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert listener.recv(256) == b"READY=1"
        deadline = time.monotonic() + 60
        while rl_user.corral("status").stdout.count("running") < 1:
            assert time.monotonic() < deadline, "rl-boot did not start (daemon --up)"
            time.sleep(0.3)
        daemons = [pid for pid in rl_user.pids()
                   if b"\0corral\0-c\0" in (argv := Path(f"/proc/{pid}/cmdline").read_bytes())
                   and b"\0daemon\0" in argv]  # fmt: skip
        assert len(daemons) == 1
        os.kill(daemons[0], signal.SIGTERM)
        assert listener.recv(256) == b"STOPPING=1"
        assert process.wait(timeout=60) == 0
        names = rl_user.run("podman", "ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert "rl-boot" not in names
    finally:
        listener.close()
        notify_path.unlink(missing_ok=True)
        if process.poll() is None:
            rl_user.corral("down")
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()
