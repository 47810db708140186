"""Issue 18 on real engines (docker and Podman): a Dockerfile build from a
corral-built base with COPY, ARG and a .dockerignore, rebuilt only when its
context changes; a one-shot migration gating a web container; on-failure
respawns; a stop never undone; exec-form health reaching healthy."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import uuid

import engines
import pytest
from sv_helpers import Corral, wait_for

pytestmark = pytest.mark.engine

#: This branch's TCP ports (issue 18's tests): 25200-25299.
PORTS = range(25200, 25300)


def unique(what: str) -> str:
    return f"life18-{what}-{uuid.uuid4().hex[:6]}"


def free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {PORTS}")


def remove_images(runtime: str, *references: str) -> None:
    """Remove built images and their build's intermediate parents (Podman keeps
    those dangling); a parent still used by something else stays."""
    for reference in references:
        chain, current = [], reference
        while current:
            parent = subprocess.run(
                [runtime, "image", "inspect", current, "--format", "{{.Parent}}"],
                capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            current = parent if parent.startswith("sha256:") else ""
            if current:
                chain.append(current)
        subprocess.run([runtime, "rmi", "-f", reference], capture_output=True)
        for parent in chain:
            subprocess.run([runtime, "rmi", parent], capture_output=True)


def image_files(runtime: str, reference: str) -> set[str]:
    made = subprocess.run(
        [runtime, "create", reference, "x"], capture_output=True, text=True, check=True
    )
    container = made.stdout.strip().splitlines()[-1]
    try:
        exported = subprocess.run(
            [runtime, "export", container], capture_output=True, check=True
        ).stdout
        listed = subprocess.run(
            ["tar", "-t"], input=exported, capture_output=True, check=True
        ).stdout.decode()
        return {line.rstrip("/") for line in listed.splitlines()}
    finally:
        subprocess.run([runtime, "rm", "-f", container], capture_output=True)


def built_log(corral: Corral, name: str) -> str:
    path = corral.state / "logs" / f"{name}.build.log"
    return path.read_text() if path.exists() else ""


def test_dockerfile_build_gated_by_a_one_shot_migration(corral: Corral, runtime: str) -> None:
    """web's image is a Dockerfile build FROM a corral-built busybox record, with an
    ARG and a COPY, and a .dockerignore keeping a file out; it starts after the
    migration one-shot exited 0, and serves. An unchanged context is not built
    again; a changed one is."""
    tag = uuid.uuid4().hex[:8]
    base, built = f"localhost/life18-base:{tag}", f"localhost/life18-web:{tag}"
    context = corral.tmp / "web"
    (context / "www").mkdir(parents=True)
    (context / "www" / "index.html").write_text("hello from the build\n")
    (context / "www" / "secret.txt").write_text("never sent\n")
    (context / "notes.log").write_text("ignored too\n")
    (context / ".dockerignore").write_text("# comments are skipped\n**/*.log\nwww/secret.txt\n")
    (context / "Dockerfile").write_text(
        f"FROM {base}\nARG GREETING=none\nCOPY www /www\nLABEL greeting=$GREETING\n"
        'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n'
    )
    migrate, web, port = unique("migrate"), unique("web"), free_port()
    marker = corral.tmp / "shared" / "migrated"
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[container]]\nprovision = "{migrate}"\nimage = "{engines.busybox_image(runtime)}"\n'
        f'one_shot = true\nvolumes = [["{marker.parent}", "/shared"]]\n'
        'command = ["sh", "-c", "echo done > /shared/migrated"]\n'
        f'[[container]]\nprovision = "life18-base-{tag}"\nauto_start = false\n'
        f'image = {{ repository = "localhost/life18-base", tag = "{tag}", '
        'programs = ["/bin/busybox"], cmd = ["/bin/busybox", "true"] }\n'
        f'[[container]]\nprovision = "{web}"\nrequirement = ["{migrate}"]\n'
        f'ports = ["127.0.0.1:{port}:8080"]\nstop_timeout = 1\n'
        f'image = {{ repository = "localhost/life18-web", tag = "{tag}", build = {{ '
        f'context = "web", args = {{ GREETING = "hi" }}, labels = {{ team = "life18" }} }} }}\n'
    )
    try:
        corral.run("up", timeout=300)
        assert marker.read_text() == "done\n"
        status = corral.status()
        assert status[migrate]["state"] == "stopped", status[migrate]
        assert status[migrate]["reason"] == "done" and status[migrate]["last_exit"] == 0
        assert status[web]["state"] == "running"
        assert engines.http_get(f"http://127.0.0.1:{port}/index.html") == "hello from the build\n"
        files = image_files(runtime, built)
        assert "www/index.html" in files
        assert "www/secret.txt" not in files and "notes.log" not in files
        labels = subprocess.run(
            [runtime, "image", "inspect", built, "--format", "{{json .Config.Labels}}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert '"greeting":"hi"' in labels and '"team":"life18"' in labels
        first = built_log(corral, web)
        assert "COPY www /www" in first  # the build's output, in the service's build log
        logs = corral.run("logs", "-n", "200", web).stdout
        assert "COPY www /www" in logs and f"Successfully tagged {built}" in logs

        # unchanged: restarting web builds nothing (its build log is as it was)
        corral.run("restart", web, timeout=120)
        assert built_log(corral, web) == first
        assert "skipped" in corral.run("image", "build", web, timeout=120).stdout
        # an ignored file changed: nothing sent changed, still skipped
        (context / "notes.log").write_text("changed but ignored\n")
        assert "skipped" in corral.run("image", "build", web, timeout=120).stdout
        # touched with the same bytes: the content digest is the same, skipped
        (context / "www" / "index.html").write_text("hello from the build\n")
        assert "skipped" in corral.run("image", "build", web, timeout=120).stdout
        # a changed file of the context: built again, and served
        (context / "www" / "index.html").write_text("second build\n")
        corral.run("restart", web, timeout=300)
        assert len(built_log(corral, web)) > len(first)

        def serves_the_second() -> bool:
            with contextlib.suppress(Exception):
                return engines.http_get(f"http://127.0.0.1:{port}/index.html", 2) == (
                    "second build\n"
                )
            return False

        wait_for(serves_the_second, timeout=30)
    finally:
        with contextlib.suppress(Exception):
            corral.run("down", check=False, timeout=120)
        remove_images(runtime, built, base)


def test_a_failed_one_shot_keeps_its_dependent_from_starting(corral: Corral, runtime: str) -> None:
    migrate, web = unique("migrate"), unique("web")
    image = engines.busybox_image(runtime)
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[container]]\nprovision = "{migrate}"\nimage = "{image}"\none_shot = true\n'
        'command = ["sh", "-c", "exit 3"]\n'
        f'[[container]]\nprovision = "{web}"\nimage = "{image}"\nrequirement = ["{migrate}"]\n'
        'command = ["sleep", "600"]\n'
    )
    done = corral.run("up", check=False, timeout=120)
    assert done.returncode != 0
    status = corral.status()
    assert status[migrate]["state"] == "stopped" and status[migrate]["last_exit"] == 3
    assert status[web]["state"] == "stopped" and status[web]["container_id"] is None
    assert f"requirement {migrate} failed" in (status[web]["reason"] or ""), status[web]
    assert "3" in status[web]["reason"]


def test_an_exited_one_shot_is_adopted_as_done_after_a_crash(corral: Corral, runtime: str) -> None:
    """The daemon killed after the one-shot ran: the next daemon takes its exited
    container as done (not run again), and the dependent starts."""
    migrate, web = unique("migrate"), unique("web")
    image = engines.busybox_image(runtime)
    runs = corral.tmp / "shared" / "runs"
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[container]]\nprovision = "{migrate}"\nimage = "{image}"\none_shot = true\n'
        f'volumes = [["{runs.parent}", "/shared"]]\n'
        'command = ["sh", "-c", "echo run >> /shared/runs"]\n'
        f'[[container]]\nprovision = "{web}"\nimage = "{image}"\nrequirement = ["{migrate}"]\n'
        'command = ["sleep", "600"]\nstop_timeout = 1\n'
    )
    corral.run("up", timeout=120)
    assert runs.read_text() == "run\n"
    import os
    import signal

    os.kill(corral.daemon_pid(), signal.SIGKILL)
    wait_for(lambda: not corral.answers())
    corral.run("up", timeout=120)
    status = corral.status()
    assert status[migrate]["reason"] == "done" and status[migrate]["last_exit"] == 0
    assert status[web]["state"] == "running"
    assert runs.read_text() == "run\n"  # not run a second time


def test_on_failure_respawns_a_failure_only_and_a_stop_stays(corral: Corral, runtime: str) -> None:
    ok, failing, always = unique("ok"), unique("fail"), unique("always")
    image = engines.busybox_image(runtime)
    common = "respawn = true\nrespawn_delay = 0.1\nrespawn_limit = [50, 60]\nstop_timeout = 1\n"
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[container]]\nprovision = "{ok}"\nimage = "{image}"\n{common}'
        'respawn_on = "failure"\ncommand = ["sh", "-c", "sleep 1; exit 0"]\n'
        f'[[container]]\nprovision = "{failing}"\nimage = "{image}"\n{common}'
        'respawn_on = "failure"\ncommand = ["sh", "-c", "sleep 1; exit 1"]\n'
        f'[[container]]\nprovision = "{always}"\nimage = "{image}"\n{common}'
        'command = ["sleep", "600"]\n'
    )
    corral.run("up", timeout=120)
    wait_for(lambda: corral.status()[failing]["restarts"] >= 2, timeout=60)
    status = corral.status()[ok]
    assert status["state"] == "stopped" and status["last_exit"] == 0, status
    assert status["restarts"] == 0
    time.sleep(2)  # long past its respawn_delay: still not respawned
    assert corral.status()[ok]["restarts"] == 0
    # a corral stop of an "exit" respawner is never undone
    corral.run("stop", always, timeout=60)
    time.sleep(2)
    status = corral.status()[always]
    assert status["state"] == "stopped" and status["container_id"] is None, status
    assert status["restarts"] == 0


def test_exec_form_health_reaches_healthy(corral: Corral, runtime: str) -> None:
    """health_cmd as a list runs with no shell: the image's entrypoint is not a
    shell, and `test` runs as an argv; health_start_interval makes the first
    check come before health_interval."""
    name = unique("health")
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\ncommand = ["sleep", "600"]\n'
        'health_cmd = ["/bin/busybox", "test", "-d", "/tmp"]\n'
        "health_interval = 120\nhealth_timeout = 5\nhealth_retries = 1\n"
        "health_start_period = 60\nhealth_start_interval = 0.5\nstop_timeout = 1\n"
    )
    started = time.monotonic()
    corral.run("up", timeout=180)  # up waits for healthy
    # Long before the 120 s interval. Quiet, this takes ~2 s; the bound leaves room
    # for a podman CLI stuck on its lock under a loaded suite (seen once: ~30 s).
    assert time.monotonic() - started < 60
    assert corral.status()[name]["health"] == "healthy"
    test = subprocess.run(
        [runtime, "inspect", name, "--format", "{{json .Config.Healthcheck.Test}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert test.strip() == '["CMD","/bin/busybox","test","-d","/tmp"]'


def test_a_failed_dockerfile_build_is_one_line(corral: Corral, runtime: str) -> None:
    name = unique("bad")
    context = corral.tmp / "bad"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /x\n")
    tag = uuid.uuid4().hex[:8]
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = {{ repository = "localhost/life18-bad", tag = "{tag}", '
        'build = { context = "bad" } }\n'
    )
    done = corral.run("image", "build", name, check=False, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("corral:")]
    assert len(error) == 1, done.stderr
    assert f"localhost/life18-bad:{tag}: build failed at step 2/2 (COPY missing.txt /x)" in error[0]
    done = corral.run("up", check=False, timeout=120)
    assert done.returncode != 0
    reason = corral.status()[name]["reason"] or ""
    assert "build failed at step 2/2" in reason and "\n" not in reason
