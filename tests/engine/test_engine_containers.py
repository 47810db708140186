"""The container lifecycle on real engines, each scenario on docker and podman."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from engine_runtime import Runtime
from engines import free_port, http_get

from corral.config import OciContainer
from corral.engine import containers, health, logs
from corral.engine.client import Engine, connect
from corral.engine.containers import invocation_for
from corral.engine.endpoint import at
from corral.render import ContainerSpec, container_spec, create_argv
from corral.render.identity import HASH_LABEL, SERVICE_LABEL, config_hash, corral_labels

pytestmark = pytest.mark.engine
T = TypeVar("T")


def spec_of(
    container: OciContainer, name: str, runtime: Any, hash_: str | None = None
) -> ContainerSpec:
    """``container`` as service ``name``, labelled by corral (its config hash by default)."""
    hash_ = config_hash(container, runtime) if hash_ is None else hash_
    return container_spec(container, name, runtime, corral_labels(name, hash_))


async def create_and_start(
    engine: Engine, container: OciContainer, name: str, hash_: str | None = None
) -> str:
    spec = spec_of(container, name, engine.runtime, hash_)
    invocation = invocation_for(container, engine.runtime)
    return await containers.create_and_start(engine, spec, invocation)


def on_engine(rt: Runtime, scenario: Callable[[Engine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = await connect(at(rt.name, rt.socket))
        try:
            return await asyncio.wait_for(scenario(engine), 60)
        finally:
            await engine.close()

    return asyncio.run(main())


def public_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)  # pytest's tmp dirs are 0700; containers may not be root
    return path


def test_httpd_serves_on_published_port_labelled_and_adoptable(rt: Runtime, tmp_path: Path) -> None:
    www = public_dir(tmp_path / "www")
    body = f"hello {uuid.uuid4().hex}\n"
    (www / "index.html").write_text(body)
    (www / "index.html").chmod(0o644)
    port = free_port()
    name = rt.unique("web")
    web = OciContainer(
        image=rt.image,
        provision=name,
        command=["httpd", "-f", "-p", "8080", "-h", "/www"],
        ports=[f"127.0.0.1:{port}:8080"],
        volumes=[[str(www), "/www"]],
        stop_timeout=1,
    )
    hash_ = config_hash(web, rt.name)

    async def scenario(engine: Engine) -> None:
        container_id = await create_and_start(engine, web, name, hash_)
        assert await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/", 20) == body

        data = await containers.inspect(engine, name)
        assert data is not None and data["Id"] == container_id
        labels = data["Config"]["Labels"]
        assert labels[SERVICE_LABEL] == name and labels[HASH_LABEL] == hash_

        assert await containers.adoptable(engine, name, hash_) == container_id
        assert await containers.adoptable(engine, name, "0" * 64) is None
        mine = [c for c in await containers.labelled(engine) if c.service == name]
        assert [(c.id, c.config_hash, c.state) for c in mine] == [(container_id, hash_, "running")]
        assert mine[0].started_at
        # Adoptable: claim returns it and leaves it alone.
        assert await containers.claim(engine, name, hash_) == container_id
        assert (await containers.inspect(engine, name) or {})["Id"] == container_id
        # A changed declaration: stale, removed.
        assert await containers.claim(engine, name, "0" * 64, timeout=1) is None
        assert await containers.inspect(engine, name) is None
        assert await containers.stop(engine, name) is None  # already gone

    try:
        on_engine(rt, scenario)
    finally:
        rt.force_remove(name)


@pytest.mark.parametrize("signal", [None, "SIGUSR1"])
def test_graceful_stop_lets_a_trapping_shell_finish_its_shutdown_work(
    rt: Runtime, tmp_path: Path, signal: str | None
) -> None:
    out = public_dir(tmp_path / "out")
    name = rt.unique("trap")
    trapped = (signal or "SIGTERM").removeprefix("SIG")
    script = (
        f"trap 'sleep 1; echo finished > /out/shutdown; exit 0' {trapped}; "
        "echo ready > /out/ready; while :; do sleep 0.1; done"
    )
    worker = OciContainer(
        image=rt.image,
        provision=name,
        command=["sh", "-c", script],
        volumes=[f"{out}:/out"],
        stop_timeout=8,
    )

    async def scenario(engine: Engine) -> tuple[int | None, float]:
        await create_and_start(engine, worker, name)
        deadline = time.monotonic() + 20
        while not (out / "ready").exists():
            assert time.monotonic() < deadline, "container never got ready"
            await asyncio.sleep(0.1)
        began = time.monotonic()
        code = await containers.stop(engine, name, worker.stop_timeout, signal)
        return code, time.monotonic() - began

    try:
        code, took = on_engine(rt, scenario)
    finally:
        rt.force_remove(name)
    assert (out / "shutdown").read_text() == "finished\n"
    assert code == 0
    assert 1.0 <= took < worker.stop_timeout
    assert name not in rt.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_events_stream_reports_die_with_exit_code(rt: Runtime) -> None:
    quick, slow = rt.unique("exit3"), rt.unique("exit4")

    async def scenario(engine: Engine) -> tuple[int | None, int, int]:
        c3 = OciContainer(image=rt.image, provision=quick, command=["sh", "-c", "exit 3"])
        container_id = await containers.create(
            engine, spec_of(c3, quick, rt.name), invocation_for(c3, rt.name)
        )
        with engine.events.subscribe(container_id) as events:
            await engine.events.connected()
            await containers.start(engine, container_id)
            event = await events.get()
            while event.kind != "die":
                event = await events.get()
        # Already exited: wait_exit reads the code by inspecting.
        after = await containers.wait_exit(engine, container_id)
        c4 = OciContainer(image=rt.image, provision=slow, command=["sh", "-c", "sleep 1; exit 4"])
        running = await create_and_start(engine, c4, slow)
        waited = await containers.wait_exit(engine, running)
        return event.exit_code, after, waited

    try:
        assert on_engine(rt, scenario) == (3, 3, 4)
    finally:
        rt.force_remove(quick, slow)


def test_health_check_becomes_healthy_on_both_engines(rt: Runtime) -> None:
    name = rt.unique("health")
    checked = OciContainer(
        image=rt.image,
        provision=name,
        command=["sh", "-c", "sleep 1; touch /tmp/ready; sleep 60"],
        health_cmd="test -f /tmp/ready",
        health_interval=1,
        health_timeout=5,
        health_retries=3,
        stop_timeout=1,
    )

    async def scenario(engine: Engine) -> list[str]:
        container_id = await create_and_start(engine, checked, name)
        driver = asyncio.create_task(health.drive_podman_health(engine, name, checked))
        seen: list[str] = []

        async def record() -> None:
            async for status in health.health_changes(engine, container_id):
                seen.append(status)
                if status == "healthy":
                    return

        try:
            await asyncio.wait_for(record(), 30)
            await health.wait_healthy(engine, container_id, timeout=5)
            assert await containers.inspect_health(engine, container_id) == "healthy"
        finally:
            driver.cancel()
            await containers.stop(engine, name, 1)
        return seen

    try:
        seen = on_engine(rt, scenario)
    finally:
        rt.force_remove(name)
    assert seen[0] in ("starting", "unhealthy", "healthy") and seen[-1] == "healthy"


def test_host_environment_secret_reaches_container_but_no_argv(rt: Runtime) -> None:
    name = rt.unique("secret")
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    holder = OciContainer(
        image=rt.image,
        provision=name,
        command=["sh", "-c", 'echo "inside=$SECRET_TOKEN"; sleep 60'],
        host_environment=[["SECRET_TOKEN", secret]],
        extra_arguments=["--env", "SECRET_TOKEN"],
        stop_timeout=1,
    )
    argv = create_argv(spec_of(holder, name, rt.name))
    assert not any(secret in arg for arg in argv)
    assert "SECRET_TOKEN" in argv

    async def scenario(engine: Engine) -> tuple[list[str], dict[str, Any]]:
        container_id = await create_and_start(engine, holder, name)
        deadline = time.monotonic() + 20
        lines: list[str] = []
        while not lines and time.monotonic() < deadline:
            lines = await logs.tail(engine, container_id, 5)
            await asyncio.sleep(0.1)
        data = await containers.inspect(engine, container_id)
        assert data is not None
        return lines, data

    try:
        lines, data = on_engine(rt, scenario)
        env = rt.cli("exec", name, "env").stdout.splitlines()
    finally:
        rt.force_remove(name)
    assert f"inside={secret}" in lines  # visible inside the container
    assert f"SECRET_TOKEN={secret}" in env
    for key in ("Args", "Path"):
        assert secret not in str(data.get(key)), key
    assert secret not in str(data["Config"].get("Cmd"))
    assert secret not in str(data["Config"].get("Labels"))


def test_logs_follow_to_file_from_first_byte_and_tail(rt: Runtime, tmp_path: Path) -> None:
    name = rt.unique("logs")
    talker = OciContainer(
        image=rt.image,
        provision=name,
        command=["sh", "-c", "echo one; echo two >&2; sleep 1; echo three"],
    )
    log_file = tmp_path / "logs" / "talker.log"

    async def scenario(engine: Engine) -> tuple[int, list[str], list[str]]:
        container_id = await create_and_start(engine, talker, name)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab", buffering=0) as stream:
            written = await asyncio.wait_for(logs.follow(engine, container_id, stream.write), 20)
        last = await logs.tail(engine, name, 2)
        since_now = await logs.tail(engine, name, 0)
        return written, last, since_now

    try:
        written, last, nothing = on_engine(rt, scenario)
    finally:
        rt.force_remove(name)
    text = log_file.read_text()
    assert sorted(text.splitlines()) == ["one", "three", "two"]
    assert text.startswith(("one\n", "two\n"))
    assert written == len(text.encode())
    assert last == ["two", "three"] or last[-1] == "three"
    assert nothing == []


def test_logs_of_a_tty_container_come_unframed(rt: Runtime, tmp_path: Path) -> None:
    """With a TTY the engine sends the output as it is (no 8-byte frame headers)."""
    name = rt.unique("tty")
    talker = OciContainer(
        image=rt.image,
        provision=name,
        command=["sh", "-c", "echo one; echo two >&2"],
        extra_arguments=["-t"],
    )

    async def scenario(engine: Engine) -> tuple[bytes, list[str]]:
        container_id = await create_and_start(engine, talker, name)
        chunks: list[bytes] = []
        await asyncio.wait_for(logs.follow(engine, container_id, chunks.append), 20)
        return b"".join(chunks), await logs.tail(engine, name, 5)

    try:
        output, last = on_engine(rt, scenario)
    finally:
        rt.force_remove(name)
    assert output.replace(b"\r\n", b"\n") == b"one\ntwo\n"
    assert last == ["one", "two"]
