"""The CLI runner, accounts and event parsing (engine-free except where marked)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import uuid

import pytest
from sv_helpers import own_children

from corral.engine.accounts import (
    AccountAction,
    apply_accounts,
    group_exists,
    plan_accounts,
    plan_host_accounts,
    user_exists,
)
from corral.engine.events import ContainerEvent, parse_event
from corral.engine.runner import (
    REDACTED,
    Identity,
    Invocation,
    child_environment,
    cli_identity,
    run_cli,
)
from corral.errors import CommandError

SECRET = f"tok-{uuid.uuid4().hex}"


def test_host_environment_goes_to_the_child_only() -> None:
    env_before = dict(os.environ)
    done = asyncio.run(
        run_cli(["sh", "-c", 'echo "$TOKEN"'], Invocation(host_environment=(f"TOKEN={SECRET}",)))
    )
    assert done.stdout == f"{REDACTED}\n"  # the child saw it; corral's output hides it
    assert SECRET not in " ".join(done.argv)
    assert dict(os.environ) == env_before


def test_secret_absent_from_proc_cmdline_while_the_cli_runs() -> None:
    async def scenario() -> list[str]:
        task = asyncio.create_task(
            run_cli(["sleep", "3"], Invocation(host_environment=(f"TOKEN={SECRET}",)))
        )
        await asyncio.sleep(0.5)
        cmdlines: list[str] = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmdlines.append(fh.read().decode(errors="replace"))
                except OSError:
                    pass
        task.cancel()
        return cmdlines

    cmdlines = asyncio.run(scenario())
    assert any(c.startswith("sleep\0" + "3") for c in cmdlines)
    assert not any(SECRET in c for c in cmdlines)
    ps = subprocess.run(["ps", "axww", "-o", "args"], capture_output=True, text=True).stdout
    assert SECRET not in ps


def test_command_error_is_redacted_and_keeps_argv_code_streams() -> None:
    argv = ["sh", "-c", 'echo "out $TOKEN"; echo "bad $TOKEN" >&2; exit 7']
    with pytest.raises(CommandError) as caught:
        asyncio.run(run_cli(argv, Invocation(host_environment=(f"TOKEN={SECRET}",))))
    err = caught.value
    assert (err.argv, err.returncode) == (tuple(argv), 7)
    assert err.stdout == f"out {REDACTED}\n" and err.stderr == f"bad {REDACTED}\n"
    assert SECRET not in str(err) and f"bad {REDACTED}" in str(err)


def test_a_secret_in_the_argv_is_refused_not_run() -> None:
    with pytest.raises(CommandError) as caught:
        asyncio.run(run_cli(["echo", f"x{SECRET}"], Invocation(host_environment=(f"T={SECRET}",))))
    assert SECRET not in str(caught.value) and "refusing" in str(caught.value)


def test_missing_program_and_timeout_are_command_errors() -> None:
    with pytest.raises(CommandError) as missing:
        asyncio.run(run_cli(["corral-no-such-program"]))
    assert missing.value.returncode == 127
    with pytest.raises(CommandError) as slow:
        asyncio.run(run_cli(["sleep", "5"], Invocation(timeout=0.2)))
    assert "timed out" in str(slow.value)


def test_stdin_fd_feeds_the_child_and_run_cli_closes_it() -> None:
    data = os.urandom(3 << 20)  # more than any pipe buffer
    fds, children = set(os.listdir("/proc/self/fd")), own_children()

    async def scenario() -> str:
        r, w = os.pipe()
        task = asyncio.create_task(run_cli(["sha256sum"], Invocation(stdin_fd=r, timeout=30)))

        def write() -> None:
            with open(w, "wb") as fh:
                fh.write(data)

        await asyncio.to_thread(write)
        return (await task).stdout

    out = asyncio.run(scenario())
    assert out.split()[0] == hashlib.sha256(data).hexdigest()
    assert set(os.listdir("/proc/self/fd")) <= fds
    assert own_children() <= children


@pytest.mark.parametrize("case", ["refused", "missing"])
def test_stdin_fd_is_closed_when_nothing_runs(case: str) -> None:
    r, w = os.pipe()
    argv, env = ["corral-no-such-program"], ()
    if case == "refused":
        argv, env = ["cat", f"x{SECRET}"], (f"T={SECRET}",)
    with pytest.raises(CommandError):
        asyncio.run(run_cli(argv, Invocation(host_environment=env, stdin_fd=r)))
    with pytest.raises(BrokenPipeError), open(w, "wb", buffering=0) as fh:
        fh.write(b"x")  # no reader is left: the feed would stop at once


def test_child_environment_and_identity_policy() -> None:
    env = child_environment(["A=1", "B", "C"], Identity(), base={"B": "from-corral", "X": "x"})
    assert env == {"A": "1", "B": "from-corral", "X": "x"}
    assert cli_identity("docker", "root", "root", euid=1000) == Identity()
    assert cli_identity("podman", "root", "root", euid=0) == Identity()
    assert cli_identity("docker", "root", "root", euid=0) == Identity("root", "root")
    assert cli_identity("docker", "corral-nobody-x", "root", euid=0) == Identity(None, "root")


def test_plan_accounts_is_pure_groups_first_each_once() -> None:
    users, groups = {"root"}, {"root"}
    plan = plan_accounts(
        [("oci-container", "docker"), ("oci-container", "docker"), ("root", "root")],
        users.__contains__,
        groups.__contains__,
    )
    assert [str(a) for a in plan] == [
        "groupadd --system docker",
        "useradd --system --gid docker --home-dir /var/empty --no-create-home "
        "--shell /usr/sbin/nologin --comment 'OCI container service' oci-container",
    ]
    assert plan_accounts([("root", "root")], users.__contains__, groups.__contains__) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="creates accounts: needs root")
@pytest.mark.engine
@pytest.mark.host  # useradd, groupadd, usermod (deleted again at the end)
def test_accounts_created_and_cli_runs_as_the_container_user(docker_engine: str) -> None:
    tag = uuid.uuid4().hex[:6]
    user, group = f"corral-tu-{tag}", f"corral-tg-{tag}"
    try:
        plan = plan_host_accounts([(user, group)])
        assert [(a.kind, a.name) for a in plan] == [("group", group), ("user", user)]
        asyncio.run(apply_accounts(plan))
        assert user_exists(user) and group_exists(group)
        assert plan_host_accounts([(user, group)]) == []
        who = asyncio.run(
            run_cli(
                ["sh", "-c", 'echo "$(id -un) $(id -gn) $(id -G | wc -w) $HOME"'],
                Invocation(identity=cli_identity("docker", user, group)),
            )
        )
        assert who.stdout.split() == [user, group, "1", "/var/empty"]
        # In the docker group (the default), the docker CLI works as that user.
        subprocess.run(["usermod", "-g", "docker", user], check=True)
        version = asyncio.run(
            run_cli(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                Invocation(identity=cli_identity("docker", user, "docker"), timeout=30),
            )
        )
        assert version.stdout.strip()
    finally:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", group], capture_output=True, check=False)
    assert not user_exists(user) and not group_exists(group)
    assert isinstance(plan[0], AccountAction)


def test_parse_event_docker_and_podman_shapes() -> None:
    docker_die = {
        "status": "die", "id": "abc", "Type": "container", "timeNano": 5,
        "Actor": {"ID": "abc", "Attributes": {"exitCode": "3", "name": "w"}},
    }  # fmt: skip
    podman_die = {
        "status": "die", "id": "def", "Type": "container",
        "Actor": {"ID": "def", "Attributes": {"containerExitCode": "4", "name": "p"}},
    }  # fmt: skip
    docker_health = {"status": "health_status: healthy", "id": "abc", "Type": "container"}
    podman_health = {"status": "health_status", "id": "def", "Type": "container"}
    assert parse_event(docker_die) == ContainerEvent("die", "abc", "w", 3, None, 5)
    assert parse_event(podman_die) == ContainerEvent("die", "def", "p", 4)
    assert parse_event(docker_health) == ContainerEvent(
        "health_status", "abc", "", health="healthy"
    )
    assert parse_event(podman_health) == ContainerEvent("health_status", "def", "")
    assert parse_event({"status": "exec_die", "id": "x"}) is None
    assert parse_event({"Type": "network", "status": "create"}) is None
