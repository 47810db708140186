"""``corral doctor`` as real users (issue 20, item 2): each finding names the
file or setting and the fix; ``up`` and ``check --host`` refuse on errors
before anything starts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rootless_users import IMAGE, RootlessUser, make_user, port

WEB = f'''
runtime = "podman"
[[container]]
provision = "rl-doc"
image = "{IMAGE}"
command = ["httpd", "-f", "-p", "8080"]
ports = ["127.0.0.1:{port(10)}:8080"]
'''


@pytest.fixture(scope="module")
def bare_user(rootfs_tar: Path) -> Iterator[RootlessUser]:
    """A user without subordinate uid/gid ranges."""
    user = make_user("n", None, subids=False)
    try:
        yield user
    finally:
        user.remove()


def _findings(res: Any) -> dict[str, list[dict[str, Any]]]:
    report = json.loads(res.stdout)
    by_check: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        by_check.setdefault(finding["check"], []).append(finding)
    return by_check


def test_no_ranges_is_an_error_naming_etc_subuid_and_the_fix(bare_user: RootlessUser) -> None:
    config = bare_user.write("corral.toml", WEB)
    res = bare_user.corral("doctor")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "error: /etc/subuid: no subordinate uid range for " + bare_user.name in res.stdout
    assert "fix: usermod --add-subuids " in res.stdout and bare_user.name in res.stdout
    found = _findings(bare_user.corral("doctor", "--json"))
    assert found["subuid"][0]["level"] == "error"
    assert found["subuid"][0]["subject"] == "/etc/subuid"
    assert found["subgid"][0]["subject"] == "/etc/subgid"
    assert found["linger"][0]["level"] == "warning"
    assert "loginctl enable-linger " + bare_user.name in found["linger"][0]["fix"]
    # `up` refuses with the same findings before anything starts
    up = bare_user.corral("-c", str(config), "up")
    assert up.returncode == 1
    assert "/etc/subuid" in up.stderr and "corral doctor found" in up.stderr
    assert not (bare_user.runtime_dir / "corral" / "corral.sock").exists()
    assert bare_user.pids() == []
    check = bare_user.corral("-c", str(config), "check", "--host")
    assert check.returncode == 1 and "/etc/subuid" in check.stderr
    assert bare_user.corral("-c", str(config), "check").returncode == 0


def test_a_low_port_and_a_memory_limit_are_errors(rl_user: RootlessUser) -> None:
    config = rl_user.write(
        "low.toml",
        f'''
runtime = "podman"
[[container]]
provision = "rl-low"
image = "{IMAGE}"
command = ["httpd", "-f", "-p", "80"]
ports = ["127.0.0.1:80:80"]
memory = "64m"
''',
    )
    res = rl_user.corral("-c", str(config), "doctor", "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    found = _findings(res)
    assert "subuid" not in found and "subgid" not in found  # this user has its ranges
    low = found["port"][0]
    assert low["level"] == "error"
    assert low["subject"] == "net.ipv4.ip_unprivileged_port_start"
    assert low["where"] == f"{config}:7: container[0].ports[0]"
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start=80" in low["fix"]
    cgroup_v1 = not os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    if cgroup_v1:
        memory = found["cgroup"][0]
        assert memory["where"] == f"{config}:8: container[0].memory"
        assert "cgroups v1" in memory["message"]
        assert "systemd.unified_cgroup_hierarchy=1" in memory["fix"]
    up = rl_user.corral("-c", str(config), "up")
    assert up.returncode == 1 and "below 1024" in up.stderr
    assert not (rl_user.runtime_dir / "corral" / "corral.sock").exists()


def test_docker_without_docker_rootless_is_an_error(rl_user: RootlessUser) -> None:
    config = rl_user.write(
        "docker.toml",
        f'''
runtime = "docker"
[[container]]
provision = "rl-dock"
image = "{IMAGE}"
''',
    )
    res = rl_user.corral("-c", str(config), "doctor", "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    finding = _findings(res)["docker-rootless"][0]
    assert finding["level"] == "error"
    assert "dockerd-rootless.sh" in finding["message"] + finding["fix"]
    # with DOCKER_HOST set, corral uses it like any endpoint: no such finding
    env = {"DOCKER_HOST": f"unix://{rl_user.runtime_dir}/elsewhere.sock"}
    again = rl_user.corral("-c", str(config), "doctor", "--json", env=env)
    assert "docker-rootless" not in _findings(again)


def test_xdg_runtime_dir_missing_is_an_error(rl_user: RootlessUser) -> None:
    res = rl_user.corral("doctor", "--json", env={"XDG_RUNTIME_DIR": "/run/user/nowhere"})
    assert res.returncode == 1
    finding = _findings(res)["runtime-dir"][0]
    assert finding["subject"] == "XDG_RUNTIME_DIR" and "does not exist" in finding["message"]
