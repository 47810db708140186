"""Two users' corrals side by side on one host (issue 20, item 1): each sees
only its own services and containers, and neither reaches the other's socket,
state or logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import engines
import pytest
from rootless_users import IMAGE, RootlessUser, make_user, port


def _config(name: str, host_port: int) -> str:
    return f'''
runtime = "podman"
[[container]]
provision = "{name}"
image = "{IMAGE}"
command = ["sh", "-c", "echo hello-{name} | tee /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
ports = ["127.0.0.1:{host_port}:8080"]
stop_timeout = 1
'''


@pytest.fixture
def two_users(rootfs_tar: Path) -> Iterator[tuple[RootlessUser, RootlessUser]]:
    first = make_user("a", rootfs_tar)
    try:
        second = make_user("b", rootfs_tar)
        try:
            yield first, second
        finally:
            second.corral("down")
            second.remove()
    finally:
        first.corral("down")
        first.remove()


def test_two_users_each_see_only_their_own(two_users: tuple[RootlessUser, RootlessUser]) -> None:
    users = {"rl-one": two_users[0], "rl-two": two_users[1]}
    for offset, (name, user) in enumerate(users.items()):
        user.write("corral.toml", _config(name, port(20 + offset)))
        up = user.corral("up")
        assert up.returncode == 0, up.stdout + up.stderr
    for offset, (name, user) in enumerate(users.items()):
        assert f"hello-{name}" in engines.http_get(f"http://127.0.0.1:{port(20 + offset)}/")
        status = user.corral("status", "--json")
        assert status.returncode == 0, status.stderr
        assert [s["name"] for s in json.loads(status.stdout)] == [name]
        names = user.run("podman", "ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert names == [name]
        logs = user.corral("logs", name)
        assert logs.returncode == 0 and f"hello-{name}" in logs.stdout
    one, two = users["rl-one"], users["rl-two"]
    # one's socket, state and logs are closed to two
    theirs = one.runtime_dir / "corral" / "corral.sock"
    reach = two.corral("--socket", str(theirs), "status")
    assert reach.returncode != 0
    assert "not allowed to talk to the corral daemon" in reach.stderr
    peek = two.run("cat", str(one.home / ".local/state/corral/logs/rl-one.log"))
    assert peek.returncode != 0 and "ermission denied" in peek.stderr
    # one's down leaves two's running
    assert one.corral("down").returncode == 0
    assert json.loads(two.corral("status", "--json").stdout)[0]["state"] == "running"
    assert "hello-rl-two" in engines.http_get(f"http://127.0.0.1:{port(21)}/")
