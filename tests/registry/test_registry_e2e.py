"""Images from a real registry, end to end on docker and Podman: push of
corral-built images, each pull policy seen in the registry's access log,
logins, the lock file, drift, update and its rollback, an outage under
``always``, and a password that shows nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from registry_server import PASSWORD, USER, RegistryServer
from sv_helpers import Corral, wait_for

RegCorral = Corral  # with .extra and .runtime: see conftest.RegCorral

pytestmark = pytest.mark.engine

LOOP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]


def unique(what: str) -> str:
    return f"reg-{what}-{uuid.uuid4().hex[:6]}"


def login(registry: RegistryServer) -> str:
    return (
        f'[[registry]]\nhost = "{registry.host}"\nusername = "{USER}"\n'
        f'password_file = "{registry.password_file}"\n\n'
    )


def push_version(
    corral: RegCorral,
    registry: RegistryServer,
    repository: str,
    tag: str,
    version: str,
    cmd: list[str] = LOOP,
) -> str:
    """Build an image with corral (busybox, a label saying ``version``), push it as
    ``HOST/repository:tag`` with ``corral image push --to``; its digest."""
    build = corral.tmp / f"build-{version}"
    build.mkdir(exist_ok=True)
    config = build / "corral.toml"
    local = f"localhost/reg-build-{repository}:{version}"
    config.write_text(
        f'runtime = "{corral.runtime}"\n' + login(registry)
        + "[[container]]\nprovision = \"reg-builder\"\nauto_start = false\n"
        f"image = {{ repository = \"{local.rsplit(':', 1)[0]}\", tag = \"{version}\", "
        f'programs = ["/bin/busybox"], symlinks = [["/bin/sh", "/bin/busybox"], '
        f'["/bin/sleep", "/bin/busybox"]], cmd = {json.dumps(cmd)}, '
        f'labels = {{ "reg.version" = "{version}" }} }}\n'
    )  # fmt: skip
    target = f"{registry.host}/{repository}:{tag}"
    done = subprocess.run(
        ["corral", "-c", str(config), "image", "push", local, "--to", target],
        env=corral.env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"pushed {target}: "), done.stdout
    digest = registry.digest_of(repository, tag)
    assert digest in done.stdout
    return digest


def container(name: str, image: str, **fields: Any) -> str:
    lines = ["[[container]]", f'provision = "{name}"', f'image = "{image}"', "stop_timeout = 1"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n\n"


def inspect(runtime: str, name: str) -> dict[str, Any]:
    done = subprocess.run([runtime, "inspect", name], capture_output=True, text=True, check=True)
    document: dict[str, Any] = json.loads(done.stdout)[0]
    return document


def image_of_container(runtime: str, name: str) -> str:
    """The reference the container was created from, as the engine says."""
    document = inspect(runtime, name)
    return str(document.get("ImageName") or document["Config"]["Image"])


def untag(runtime: str, reference: str) -> None:
    subprocess.run([runtime, "rmi", "-f", reference], capture_output=True, check=False)


def header(runtime: str, **top: Any) -> str:
    return f'runtime = "{runtime}"\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in top.items())


# -- pull policies ---------------------------------------------------------------


def test_pull_policies_seen_in_the_access_log(
    corral: RegCorral, runtime: str, registry: RegistryServer
) -> None:
    repository = unique("policy")
    push_version(corral, registry, repository, "1", "1")
    reference = f"{registry.host}/{repository}:1"
    # missing, image present (the push left it): no request at all
    corral.write(header(runtime) + login(registry) + container("reg-missing", reference))
    before = registry.manifest_requests(repository)
    corral.run("up", timeout=120)
    assert registry.manifest_requests(repository) == before
    corral.run("down", timeout=60)
    # never, image absent: the start fails naming it, and asks nothing
    untag(runtime, reference)
    corral.write(
        header(runtime) + login(registry) + container("reg-never", reference, pull="never")
    )
    done = corral.run("up", check=False, timeout=120)
    assert done.returncode == 1
    assert f'{reference}: {runtime} has no such image, and pull = "never" forbids' in done.stderr
    assert registry.manifest_requests(repository) == before
    corral.run("down", timeout=60)
    # always (the top-level default here): a manifest request at every start and respawn
    corral.write(
        header(runtime, pull="always") + login(registry)
        + container("reg-always", reference, command=["sh", "-c", "sleep 1; exit 1"],
                    respawn=True, respawn_delay=0.1, respawn_limit=[20, 30])
    )  # fmt: skip
    corral.run("up", timeout=120)
    first = registry.manifest_requests(repository)
    assert first > before
    # each respawn pulls first: two respawns seen, two more manifest requests logged
    wait_for(lambda: corral.status()["reg-always"]["restarts"] >= 3, timeout=30)
    assert registry.manifest_requests(repository) >= first + 2
    corral.run("down", timeout=60)
    # newer: one question when the digest is the local one, a pull once the tag moved
    corral.write(header(runtime) + login(registry)
                 + container("reg-newer", reference, pull="newer", command=LOOP))  # fmt: skip
    before = registry.manifest_requests(repository)
    old = inspect(runtime, reference)["Id"]
    corral.run("up", timeout=120)
    assert registry.manifest_requests(repository) > before  # asked (docker: HEAD and GET)
    assert inspect(runtime, reference)["Id"] == old  # and kept
    new_digest = push_version(corral, registry, repository, "1", "2")
    untag(runtime, reference)
    subprocess.run([runtime, "tag", old, reference], check=True, capture_output=True)
    corral.run("restart", "reg-newer", timeout=60)
    assert inspect(runtime, reference)["Id"] != old
    assert any(d.endswith(new_digest) for d in inspect(runtime, reference)["RepoDigests"])


def test_logins_by_password_file_and_by_config_json_and_the_password_shows_nowhere(
    corral: RegCorral, runtime: str, registry: RegistryServer
) -> None:
    repository = unique("login")
    push_version(corral, registry, repository, "1", "1")
    reference = f"{registry.host}/{repository}:1"
    # a [[registry]] record with a password file
    untag(runtime, reference)
    corral.write(header(runtime) + login(registry) + container("reg-login", reference))
    corral.run("up", timeout=120)
    assert corral.status()["reg-login"]["state"] == "running"
    shown = corral.run("show").stdout + corral.run("status", "--json").stdout
    corral.run("down", timeout=60)
    # the user's own config.json (DOCKER_CONFIG), no record
    untag(runtime, reference)
    auth = {"auths": {registry.host: {"auth": registry.basic().split()[1]}}}
    (Path(corral.extra["DOCKER_CONFIG"]) / "config.json").write_text(json.dumps(auth))
    os.chmod(Path(corral.extra["DOCKER_CONFIG"]) / "config.json", 0o600)
    corral.write(header(runtime) + container("reg-login", reference))
    corral.run("up", timeout=120)
    assert corral.status()["reg-login"]["state"] == "running"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    shown += corral.run("show").stdout + corral.run("status", "--json").stdout + ps
    shown += json.dumps(inspect(runtime, "reg-login"))
    shown += corral.run("logs", "reg-login", check=False).stdout
    corral.run("down", timeout=60)
    # wrong credentials: a 401, said in one line, without the password
    os.unlink(Path(corral.extra["DOCKER_CONFIG"]) / "config.json")
    wrong = corral.tmp / "wrong.pass"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    untag(runtime, reference)
    corral.write(
        header(runtime) + f'[[registry]]\nhost = "{registry.host}"\nusername = "{USER}"\n'
        f'password_file = "{wrong}"\n\n' + container("reg-login", reference)
    )  # fmt: skip
    done = corral.run("up", check=False, timeout=120)
    assert done.returncode == 1
    assert "refused the login (401)" in done.stderr, done.stderr
    shown += done.stdout + done.stderr + corral.run("status", "--json").stdout
    corral.run("down", timeout=60)
    assert PASSWORD not in shown
    for path in corral.tmp.rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o077 and path != registry.password_file:
            assert PASSWORD.encode() not in path.read_bytes(), path


# -- the lock, drift, update, rollback -------------------------------------------------


def _lock_digest(corral: RegCorral, reference: str) -> str:
    import tomllib

    document = tomllib.loads((corral.tmp / "corral.lock").read_text())
    return next(str(i["digest"]) for i in document["image"] if i["reference"] == reference)


def test_lock_up_drift_update(corral: RegCorral, runtime: str, registry: RegistryServer) -> None:
    repository = unique("lock")
    first = push_version(corral, registry, repository, "1", "1")
    reference = f"{registry.host}/{repository}:1"
    corral.write(header(runtime, update_settle=1.0) + login(registry)
                 + container("reg-locked", reference))  # fmt: skip
    done = corral.run("lock", timeout=60)
    assert f"{reference} {first}" in done.stdout
    assert _lock_digest(corral, reference) == first
    assert corral.run("lock", "--check", timeout=60).returncode == 0
    corral.run("up", timeout=120)
    pinned = f"{registry.host}/{repository}@{first}"
    assert image_of_container(runtime, "reg-locked") == pinned
    assert inspect(runtime, "reg-locked")["Config"]["Labels"]["corral.image.tag"] == reference
    second = push_version(corral, registry, repository, "1", "2")
    plan = corral.run("plan", timeout=60).stdout
    assert f"drift: {reference} {first} → {second}" in plan
    check = corral.run("lock", "--check", check=False, timeout=60)
    assert check.returncode == 1 and f"drift: {reference} {first} → {second}" in check.stdout
    dry = corral.run("update", "--dry-run", timeout=120)
    assert "would update" in dry.stdout and _lock_digest(corral, reference) == first
    done = corral.run("update", timeout=180)
    assert "reg-locked" in done.stdout and "updated" in done.stdout, done.stdout
    # its pull, one line (no terminal here) before the table — none when the engine
    # knows the new digest already (Podman may, having pushed it)
    pulled = done.stdout.count(f"pulled {registry.host}/{repository}")
    assert pulled == 1 or (pulled == 0 and runtime == "podman"), done.stdout
    assert f"{first[:19]} → {second[:19]}" in done.stdout
    assert _lock_digest(corral, reference) == second
    assert image_of_container(runtime, "reg-locked") == f"{registry.host}/{repository}@{second}"
    assert corral.status()["reg-locked"]["state"] == "running"
    assert corral.run("lock", "--check", timeout=60).returncode == 0
    assert corral.run("plan", timeout=60).stdout.strip() == "nothing to do"


HEALTHY = ["sh", "-c", ": > /ok; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
HEALTH = {"health_cmd": "test -f /ok", "health_interval": 0.3, "health_timeout": 2.0,
          "health_retries": 1}  # fmt: skip


@pytest.mark.parametrize("broken", ["exits", "unhealthy"])
def test_a_broken_update_is_rolled_back(
    corral: RegCorral, runtime: str, registry: RegistryServer, broken: str
) -> None:
    repository = unique("rollback")
    good = push_version(corral, registry, repository, "1", "1", cmd=HEALTHY)
    reference = f"{registry.host}/{repository}:1"
    fields = HEALTH if broken == "unhealthy" else {}
    corral.write(header(runtime, update_settle=2.0) + login(registry)
                 + container("reg-roll", reference, **fields))  # fmt: skip
    corral.run("lock", timeout=60)
    corral.run("up", timeout=120)
    lock_before = (corral.tmp / "corral.lock").read_text()
    cmd = ["sh", "-c", "exit 3"] if broken == "exits" else LOOP  # LOOP never makes /ok
    push_version(corral, registry, repository, "1", "2", cmd=cmd)
    done = corral.run("update", check=False, timeout=180)
    assert done.returncode == 1
    why = "exited within 2s" if broken == "exits" else "unhealthy"
    assert "rolled back" in done.stdout and why in done.stdout, done.stdout
    assert (corral.tmp / "corral.lock").read_text() == lock_before
    status = corral.status()["reg-roll"]
    assert status["state"] == "running"
    assert "rolled back" in status["note"]
    assert image_of_container(runtime, "reg-roll") == f"{registry.host}/{repository}@{good}"


def test_registry_down_a_respawn_under_always_runs_the_local_image(
    corral: RegCorral, runtime: str, registry: RegistryServer
) -> None:
    repository = unique("outage")
    push_version(corral, registry, repository, "1", "1")
    reference = f"{registry.host}/{repository}:1"
    corral.write(
        header(runtime) + login(registry)
        + container("reg-outage", reference, pull="always", respawn=True, respawn_delay=0.1,
                    respawn_limit=[20, 30], command=["sh", "-c", "sleep 1; exit 1"])
    )  # fmt: skip
    corral.run("up", timeout=120)
    registry.stop()
    try:
        restarts = corral.status()["reg-outage"]["restarts"]
        wait_for(lambda: corral.status()["reg-outage"]["restarts"] >= restarts + 2, timeout=40)
        status = wait_for(lambda: (s := corral.status()["reg-outage"])["note"] and s, timeout=10)
        assert "pull failed, kept the local image" in status["note"]
        assert "no registry answered" in status["note"]
        assert status["state"] in ("running", "starting")
    finally:
        registry.start()


def test_bad_registry_inputs_are_one_line_and_change_nothing(
    corral: RegCorral, runtime: str, registry: RegistryServer
) -> None:
    repository = unique("bad")
    push_version(corral, registry, repository, "1", "1")
    reference = f"{registry.host}/{repository}:1"
    # a missing tag (404)
    corral.write(header(runtime) + login(registry) + container("reg-bad", f"{reference}x"))
    done = corral.run("lock", check=False, timeout=60)
    assert done.returncode == 1 and not (corral.tmp / "corral.lock").exists()
    assert f"{reference}x: registry {registry.host} has no such tag or image (404)" in done.stderr
    # wrong credentials (401)
    wrong = corral.tmp / "wrong.pass"
    wrong.write_text("nope\n")
    wrong.chmod(0o600)
    corral.write(
        header(runtime) + f'[[registry]]\nhost = "{registry.host}"\nusername = "{USER}"\n'
        f'password_file = "{wrong}"\n\n' + container("reg-bad", reference)
    )  # fmt: skip
    done = corral.run("lock", check=False, timeout=60)
    assert done.returncode == 1 and "(401)" in done.stderr and PASSWORD not in done.stderr
    # no registry answering
    corral.write(header(runtime) + login(registry) + container("reg-bad", reference))
    registry.stop()
    try:
        done = corral.run("lock", check=False, timeout=60)
    finally:
        registry.start()
    assert done.returncode == 1 and "no registry answers at" in done.stderr, done.stderr
    assert not (corral.tmp / "corral.lock").exists()
    # a digest in the lock that the registry no longer has
    corral.run("lock", timeout=60)
    digest = _lock_digest(corral, reference)
    registry.delete_manifest(repository, digest)
    untag(runtime, inspect(runtime, reference)["Id"])  # every name of it, the build's too
    done = corral.run("up", check=False, timeout=120)
    assert done.returncode == 1
    assert f"{registry.host}/{repository}@{digest}" in done.stderr, done.stderr
    assert corral.status()["reg-bad"]["state"] == "stopped"


#: A version that refuses to run once the next one has "migrated" its data.
OLD_ONE = ["sh", "-c", "if [ -f /data/migrated ]; then exit 4; fi; "
           "trap 'exit 0' TERM; while :; do sleep 0.1; done"]  # fmt: skip
MIGRATES_AND_DIES = ["sh", "-c", ": > /data/migrated; exit 3"]


@pytest.mark.parametrize("respawn", [True, False])
def test_a_rollback_whose_previous_version_fails_too_stays_under_its_respawn_policy(
    corral: RegCorral, runtime: str, registry: RegistryServer, respawn: bool
) -> None:
    repository = unique("twice")
    good = push_version(corral, registry, repository, "1", "1", cmd=OLD_ONE)
    reference = f"{registry.host}/{repository}:1"
    data = corral.tmp / "data"
    data.mkdir()
    limit = [20, 60] if respawn else [3, 60]
    corral.write(header(runtime, update_settle=1.0) + login(registry)
                 + container("reg-twice", reference, volumes=[[str(data), "/data"]],
                             respawn=respawn, respawn_delay=0.3, respawn_limit=limit))  # fmt: skip
    corral.run("lock", timeout=60)
    corral.run("up", timeout=120)
    lock_before = (corral.tmp / "corral.lock").read_text()
    push_version(corral, registry, repository, "1", "2", cmd=MIGRATES_AND_DIES)
    done = corral.run("update", check=False, timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("reg-twice"))
    assert "rolled back: exited within 1s (exit 3)" in row, row
    assert (corral.tmp / "corral.lock").read_text() == lock_before
    pinned = f"{registry.host}/{repository}@{good}"
    status = corral.status()["reg-twice"]
    if respawn:  # the owner's policy goes on: retried with backoff until it holds
        assert f"the previous version failed too (exited within 1s (exit 4)): respawning on " \
               f"{good[:19]} (respawn_limit 20 starts in 60 s)" in row, row  # fmt: skip
        assert "the previous version failed too" in status["note"], status
        assert status["enabled"], status
        restarts = status["restarts"]
        wait_for(lambda: corral.status()["reg-twice"]["restarts"] >= restarts + 1, timeout=20)
        (data / "migrated").unlink()  # what made the previous version fail is mended
        running = wait_for(
            lambda: (s := corral.status()["reg-twice"])["state"] == "running" and s, timeout=20
        )
        time.sleep(1.5)  # and it stays
        after = corral.status()["reg-twice"]
        assert after["state"] == "running" and after["restarts"] == running["restarts"], after
        assert image_of_container(runtime, "reg-twice") == pinned
    else:  # no respawn of its own: the update retries it under the same policy's limit
        assert "the previous version failed too, 3 starts (exited within 1s (exit 4)): " \
               "stopped, respawn_limit 3 starts in 60 s" in row, row  # fmt: skip
        assert status["state"] == "stopped" and "failed too" in status["note"], status
