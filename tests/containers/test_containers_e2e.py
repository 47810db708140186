"""Containers as supervised services, end to end: the real CLI, a real daemon,
a real dockerd and a real Podman (every scenario runs on both)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import engines
import pytest
from sv_helpers import Corral, labelled_ids, wait_for

pytestmark = pytest.mark.engine

SECRET = "s3cr3t-Value-7f1e"


def _inspect(runtime: str, name: str) -> dict[str, Any]:
    done = subprocess.run([runtime, "inspect", name], capture_output=True, text=True, check=True)
    document: dict[str, Any] = json.loads(done.stdout)[0]
    return document


def unique(what: str) -> str:
    return f"e2e-{what}-{uuid.uuid4().hex[:6]}"


def container(name: str, image: str, command: str, **fields: Any) -> str:
    """A ``[[container]]`` table running ``sh -c COMMAND`` in the busybox image."""
    lines = [
        "[[container]]",
        f'provision = "{name}"',
        f'image = "{image}"',
        f"command = {json.dumps(['sh', '-c', command])}",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n\n"


def header(runtime: str) -> str:
    return f'runtime = "{runtime}"\n\n'


def image_of(runtime: str) -> str:
    return engines.busybox_image(runtime)


def test_web_container_serves_over_a_published_port(corral: Corral, runtime: str) -> None:
    www = corral.tmp / "shared"
    (www / "index.html").write_text("served by corral\n")
    (www / "index.html").chmod(0o644)
    port = engines.free_port()
    name = unique("web")
    corral.write(
        header(runtime)
        + container(
            name,
            image_of(runtime),
            "exec httpd -f -p 8080 -h /www",
            ports=[f"127.0.0.1:{port}:8080"],
            volumes=[[str(www), "/www"]],
            stop_timeout=1,
        )
    )
    corral.run("up", timeout=120)
    assert engines.http_get(f"http://127.0.0.1:{port}/index.html", 30) == "served by corral\n"
    status = corral.status_via_cli()[name]
    assert status["state"] == "running" and status["kind"] == "container"
    assert status["container_id"] and status["pid"] is None
    labels = _inspect(runtime, name)["Config"]["Labels"]
    assert labels["corral.service"] == name
    assert labels["corral.instance"] == str(corral.state.resolve())
    assert len(labels["corral.config-hash"]) == 64


def test_command_line_is_the_call_corral_makes(corral: Corral, runtime: str) -> None:
    """`command-line`, `show` and the `command-line` action print the create corral
    really made: its labels (config hash and instance) are the container's own."""
    import shlex

    name = unique("line")
    corral.write(
        header(runtime)
        + container(
            name,
            image_of(runtime),
            "exec sleep 600",
            environment=["MODE=x"],
            stop_timeout=1,
        )
        + 'labels = { team = "ops" }\n'
    )
    corral.run("up", timeout=120)
    actual = _inspect(runtime, name)["Config"]["Labels"]
    shown = {
        "command-line": shlex.split(corral.run("command-line", name).stdout),
        "action": shlex.split(corral.run("action", name, "command-line").stdout),
        "show": json.loads(corral.run("show", name, "--json").stdout)[0]["argv"],
    }
    for where, argv in shown.items():
        assert argv[:4] == [runtime, "create", "--name", name], where
        labels = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--label")
        assert labels == {k: actual[k] for k in labels}, where
        assert set(labels) == {"team", "corral.service", "corral.config-hash", "corral.instance"}
        assert argv[-4:] == [image_of(runtime), "sh", "-c", "exec sleep 600"], where
    seed = shlex.split(corral.run("command-line", name, "--seed").stdout)
    assert seed[:5] == [runtime, "run", "--rm", "--name", name]
    assert not any(a.startswith("corral.") for a in seed)


def test_exiting_container_is_respawned_then_disabled(corral: Corral, runtime: str) -> None:
    name = unique("crash")
    corral.write(
        header(runtime)
        + container(
            name,
            image_of(runtime),
            "sleep 0.3; exit 3",
            respawn=True,
            respawn_delay=0.1,
            respawn_limit=[3, 60],
        )
    )
    corral.run("up", timeout=120)

    def disabled() -> dict[str, Any] | None:
        status = corral.status()[name]
        return status if not status["enabled"] else None

    status = wait_for(disabled, timeout=90, every=0.2)
    assert status["reason"] == "respawn limit: 3 starts in 60 s"
    assert status["last_exit"] == 3
    assert status["restarts"] == 2
    assert status["state"] == "stopped"
    # each respawn set the dead one aside and removed it; the last stays (its logs)
    assert wait_for(lambda: _of_service(runtime, name) == [name] or None, timeout=30)


def _of_service(runtime: str, name: str) -> list[str]:
    """The names of the containers labelled for service ``name``."""
    return subprocess.run(
        [runtime, "ps", "-a", "--filter", f"label=corral.service={name}", "--format",
         "{{.Names}}"], capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip


def test_a_dead_container_left_aside_is_removed_at_the_next_start(
    corral: Corral, runtime: str
) -> None:
    """A respawn renames the dead container out of the way and removes it once the
    next one runs; one that a crash left aside goes at the next start — if it is
    this corral's."""
    name = unique("aside")
    ours, theirs = f"{name}.exited-0123456789ab", f"{name}.exited-ba9876543210"
    for leftover, instance in ((ours, str(corral.state.resolve())), (theirs, "/elsewhere")):
        subprocess.run(
            [runtime, "create", "--name", leftover, "--label", f"corral.service={name}",
             "--label", f"corral.instance={instance}", image_of(runtime), "true"],
            capture_output=True, check=True,
        )  # fmt: skip
    try:
        corral.write(header(runtime) + container(name, image_of(runtime), "exec sleep 600"))
        corral.run("up", timeout=120)
        assert sorted(_of_service(runtime, name)) == sorted([name, theirs])
    finally:
        subprocess.run([runtime, "rm", "-f", theirs], capture_output=True, check=False)


def test_dependent_waits_for_health(corral: Corral, runtime: str) -> None:
    shared = corral.tmp / "shared"
    web, client = unique("slow"), unique("client")
    corral.write(
        header(runtime)
        + container(
            web,
            image_of(runtime),
            "sleep 2; touch /shared/web-ready; exec sleep 600",
            volumes=[[str(shared), "/shared"]],
            health_cmd="test -f /shared/web-ready",
            health_interval=0.5,
            health_timeout=2,
            health_start_period=20,
            stop_timeout=1,
        )
        + container(
            client,
            image_of(runtime),
            "test -f /shared/web-ready && touch /shared/client-saw-ready; exec sleep 600",
            volumes=[[str(shared), "/shared"]],
            requirement=[web],
            stop_timeout=1,
        )
    )
    corral.run("up", timeout=120)
    assert (shared / "client-saw-ready").exists()
    assert corral.status_via_cli()[web]["health"] == "healthy"
    # again on restart: the dependent is restarted after its requirement is healthy again
    (shared / "web-ready").unlink()
    (shared / "client-saw-ready").unlink()
    corral.run("restart", web, timeout=120)
    assert (shared / "client-saw-ready").exists()


def test_kill_9_then_up_adopts_with_zero_restarts(corral: Corral, runtime: str) -> None:
    names = [unique("a"), unique("b")]
    corral.write(
        header(runtime)
        + "".join(container(n, image_of(runtime), "exec sleep 600", stop_timeout=1) for n in names)
    )
    corral.run("up", timeout=120)
    before = {n: _inspect(runtime, n) for n in names}
    pid = corral.daemon_pid()
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_for(lambda: not corral.answers(), timeout=10)
    corral.run("up", timeout=120)
    status = corral.status_via_cli()
    for name in names:
        after = _inspect(runtime, name)
        assert after["Id"] == before[name]["Id"]
        assert after["State"]["StartedAt"] == before[name]["State"]["StartedAt"]
        assert status[name]["restarts"] == 0 and status[name]["state"] == "running"
    assert sorted(labelled_ids(runtime, corral.state)) == sorted(
        before[n]["Id"][: len(labelled_ids(runtime, corral.state)[0])] for n in names
    )


def test_edited_env_recreates_exactly_that_container(corral: Corral, runtime: str) -> None:
    edited, kept = unique("edited"), unique("kept")

    def write(mode: str) -> None:
        corral.write(
            header(runtime)
            + container(edited, image_of(runtime), "exec sleep 600",
                        environment=[f"MODE={mode}"], stop_timeout=1)
            + container(kept, image_of(runtime), "exec sleep 600", stop_timeout=1)
        )  # fmt: skip

    write("one")
    corral.run("up", timeout=120)
    before = {n: _inspect(runtime, n)["Id"] for n in (edited, kept)}
    write("two")
    plan = corral.run("plan").stdout
    assert f"restart {edited}: changed environment" in plan
    assert kept not in plan
    corral.run("reload", timeout=120)
    assert _inspect(runtime, edited)["Id"] != before[edited]
    assert "MODE=two" in _inspect(runtime, edited)["Config"]["Env"]
    assert _inspect(runtime, kept)["Id"] == before[kept]


def test_undeclared_container_is_reported_then_removed(corral: Corral, runtime: str) -> None:
    gone, stays = unique("gone"), unique("stays")
    both = container(gone, image_of(runtime), "exec sleep 600", stop_timeout=1)
    one = container(stays, image_of(runtime), "exec sleep 600", stop_timeout=1)
    corral.write(header(runtime) + both + one)
    corral.run("up", timeout=120)
    pid = corral.daemon_pid()
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_for(lambda: not corral.answers(), timeout=10)
    corral.write(header(runtime) + one)
    corral.run("up", timeout=120)
    plan = corral.run("plan").stdout
    assert f"remove {gone}: container" in plan and "no longer declared" in plan
    corral.run("reload", timeout=120)
    remaining = subprocess.run(
        [runtime, "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
    ).stdout.split()
    assert gone not in remaining and stays in remaining


def test_sigterm_trap_finishes_its_shutdown_work(corral: Corral, runtime: str) -> None:
    shared = corral.tmp / "shared"
    name = unique("graceful")
    script = (
        "trap 'sleep 1; echo finished > /shared/shutdown; exit 0' TERM; "
        "while true; do sleep 0.1; done"
    )
    corral.write(
        header(runtime)
        + container(
            name, image_of(runtime), script, volumes=[[str(shared), "/shared"]], stop_timeout=8
        )
    )
    corral.run("up", timeout=120)
    began = time.monotonic()
    corral.run("stop", name, timeout=60)
    assert time.monotonic() - began < 8
    assert (shared / "shutdown").read_text() == "finished\n"
    assert corral.status()[name]["last_exit"] == 0
    assert labelled_ids(runtime, corral.state) == []


def test_host_environment_secret_stays_secret(corral: Corral, runtime: str) -> None:
    shared = corral.tmp / "shared"
    name = unique("secret")
    corral.write(
        header(runtime)
        + container(
            name,
            image_of(runtime),
            "echo token=$SECRET_TOKEN > /shared/token; echo started; exec sleep 600",
            volumes=[[str(shared), "/shared"]],
            host_environment=[["SECRET_TOKEN", SECRET]],
            extra_arguments=["--env", "SECRET_TOKEN"],
            stop_timeout=1,
        )
    )
    corral.run("up", timeout=120)
    assert (shared / "token").read_text() == f"token={SECRET}\n"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert SECRET not in ps
    for args in (("show",), ("show", "--json"), ("status",), ("status", "--json"),
                 ("logs", name), ("action", name, "command-line")):  # fmt: skip
        done = corral.run(*args)
        assert SECRET not in done.stdout + done.stderr, args
    assert SECRET not in (corral.state / "daemon.log").read_text()
    inspected = _inspect(runtime, name)
    shown = json.dumps([inspected.get("Args"), inspected.get("Path"), inspected["Config"]["Cmd"],
                        inspected["Config"]["Labels"]])  # fmt: skip
    assert SECRET not in shown


def test_pull_without_a_registry_fails_readably(corral: Corral, runtime: str) -> None:
    name = unique("pull")
    corral.write(
        header(runtime)
        + container(name, "registry.invalid/team/nothing:1", "true", auto_start=False)
    )
    corral.run("up", timeout=60)
    done = corral.run("action", name, "pull", check=False, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("corral: pull registry.invalid/team/nothing:1: ")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_no_labelled_container_survives_down(corral: Corral, runtime: str) -> None:
    names = [unique("d1"), unique("d2")]
    corral.write(
        header(runtime)
        + container(names[0], image_of(runtime), "exec sleep 600", stop_timeout=1)
        + container(names[1], image_of(runtime), "exec sleep 600", stop_timeout=1,
                    requirement=[names[0]])
    )  # fmt: skip
    corral.run("up", timeout=120)
    assert len(labelled_ids(runtime, corral.state)) == 2
    corral.run("down", timeout=120)
    assert labelled_ids(runtime, corral.state) == []
    assert not corral.answers()


def test_containers_of_an_image_record_run_from_it(corral: Corral, runtime: str) -> None:
    """Two containers of one image record: the daemon builds it and makes it
    present once (streamed over the Engine API), and both run from it."""
    tag = uuid.uuid4().hex[:10]
    reference = f"localhost/corral-test/e2e-record:{tag}"
    record = (
        f'image = {{ repository = "localhost/corral-test/e2e-record", tag = "{tag}", '
        'programs = ["/bin/busybox"], symlinks = ["/bin/sh:busybox"] }\n'
    )
    names = [unique("rec1"), unique("rec2")]
    corral.write(
        header(runtime)
        + "".join(
            f'[[container]]\nprovision = "{name}"\n{record}'
            'command = ["/bin/busybox", "sleep", "600"]\nstop_timeout = 1\n\n'
            for name in names
        )
    )
    try:
        corral.run("up", timeout=180)
        statuses = corral.status_via_cli()
        assert [statuses[name]["state"] for name in names] == ["running", "running"]
        image_id = subprocess.run(
            [runtime, "image", "inspect", "--format", "{{.Id}}", reference],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert {_inspect(runtime, name)["Image"].removeprefix("sha256:") for name in names} == {
            image_id.removeprefix("sha256:")
        }
        assert (corral.state / "image-digests.json").exists()
        corral.run("down", timeout=120)
    finally:
        subprocess.run([runtime, "rmi", "-f", reference], capture_output=True, check=False)
