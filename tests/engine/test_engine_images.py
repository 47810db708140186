"""``engine.images``: what the engine's answers mean (against the scripted
server of test_engine_api), and images made present on real engines — a
string image inspected, pulled only when missing; a container's create never
pulls."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_runtime import Runtime
from test_engine_api import serve

from corral.config import OciContainer
from corral.engine import containers
from corral.engine.api import EngineApi, Upload
from corral.engine.client import Engine, EngineError, connect
from corral.engine.containers import invocation_for
from corral.engine.endpoint import EndpointError, at, endpoint_for
from corral.engine.images import EngineImages, present, split_tag
from corral.engine.pull import PullError, split_reference
from corral.errors import ImageError
from corral.render import container_spec


def answer(body: bytes, status: str = "200 OK") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body)


async def some_bytes() -> AsyncIterator[bytes]:
    yield bytes(1024)


def on_script(tmp_path: Path, answers: list[bytes], what: str) -> list[object]:
    """Each answer to one ``import`` (``what`` = "import") or ``load``: what it
    gave, or the ``ImageError`` it raised."""

    async def scenario(api: EngineApi) -> list[object]:
        store = EngineImages(Engine(at("docker", api.path), api))
        out: list[object] = []
        for _ in range(len(answers)):
            try:
                if what == "import":
                    out.append(await store.import_layer(Upload(some_bytes(), size=1024)))
                else:
                    out.append(await store.load(Upload(some_bytes())))
            except ImageError as exc:
                out.append(exc)
        return out

    return serve(tmp_path, answers, scenario)[0]


def test_an_import_answer_gives_the_image_or_its_error(tmp_path: Path) -> None:
    got = on_script(
        tmp_path,
        [
            answer(b'{"status":"sha256:abc"}\r\n\r\n'),
            answer(b'{"status":"x"}\n{"errorDetail":{"message":"no space"},"error":"no space"}\n'),
            answer(b"<html>"),
            answer(b'{"message":"refused"}', "500 Oops"),
        ],
        "import",
    )
    assert got[0] == "sha256:abc"
    assert [str(e).split(": ", 1)[1] for e in got[1:]] == [
        "import: no space",
        "import said nothing about its image",
        "import: refused",
    ]


def test_a_load_answer_names_what_was_loaded(tmp_path: Path) -> None:
    got = on_script(
        tmp_path,
        [
            answer(b'{"stream":"Loaded image: localhost/a:1\\n"}'),  # dockerd
            answer(b'{"stream":"Loaded image: localhost/a:1"}'),  # Podman
            answer(b'{"stream":"Loaded image ID: sha256:ab\\n"}'),
            answer(b'{"message":"payload does not match\\n * oci: ..."}', "500 Oops"),
        ],
        "load",
    )
    assert got[:3] == [(["localhost/a:1"], []), (["localhost/a:1"], []), ([], ["sha256:ab"])]
    assert str(got[3]).startswith("docker at ") and ": load: payload does not match" in str(got[3])


def test_references_are_split_for_the_api() -> None:
    assert split_reference("busybox") == ("busybox", "latest")
    assert split_reference("registry:5000/a/b") == ("registry:5000/a/b", "latest")
    assert split_reference("registry:5000/a/b:2") == ("registry:5000/a/b", "2")
    assert split_reference("a/b@sha256:12") == ("a/b", "sha256:12")
    assert split_reference("a/b:1@sha256:12") == ("a/b", "sha256:12")
    assert split_tag("localhost/corral-test/x:t1") == ("localhost/corral-test/x", "t1")
    assert split_tag("localhost:5000/x") == ("localhost:5000/x", "latest")


def test_image_loads_go_where_the_endpoint_says() -> None:
    """Loads, pulls and containers share one endpoint: DOCKER_HOST's Unix socket;
    an address of another kind is refused (not sent to another engine)."""
    env = {"DOCKER_HOST": "unix:///run/d.sock"}
    assert endpoint_for(None, "docker", "/s", environ=env).socket == "/run/d.sock"
    assert endpoint_for(None, "docker", "/s", environ={}).socket == "/var/run/docker.sock"
    with pytest.raises(EndpointError, match="DOCKER_HOST"):
        endpoint_for(None, "docker", "/s", environ={"DOCKER_HOST": "tcp://10.0.0.1:2375"})
    with pytest.raises(EndpointError, match="unknown runtime 'lxc'"):
        endpoint_for(None, "lxc", "/s", environ={})


@pytest.mark.engine
def test_a_present_string_image_is_not_pulled_a_missing_one_is(rt: Runtime) -> None:
    """A local image (no registry could serve it) is found, not pulled; a
    missing one is pulled, and no registry answers here."""
    missing = f"docker.io/library/corral-no-such-{uuid.uuid4().hex[:8]}:1"

    async def scenario() -> str:
        engine = await connect(at(rt.name, rt.socket))
        try:
            found = await present(engine, rt.image, state_dir=None)
            with pytest.raises(PullError, match=f"pull {missing}: no registry answered"):
                await present(engine, missing, state_dir=None)
            return found
        finally:
            await engine.close()

    found = asyncio.run(scenario())
    assert found.startswith("sha256:") and len(found) == 71


@pytest.mark.engine
def test_create_never_pulls_it_names_the_missing_image(rt: Runtime) -> None:
    image = f"localhost/corral-no-such-{uuid.uuid4().hex[:8]}:1"
    name = rt.unique("nopull")

    async def scenario() -> str:
        engine = await connect(at(rt.name, rt.socket))
        try:
            with pytest.raises(EngineError) as caught:
                container = OciContainer(image=image, provision=name)
                spec = container_spec(container, name, rt.name, {})  # type: ignore[arg-type]
                await containers.create(engine, spec, invocation_for(container, rt.name))  # type: ignore[arg-type]
            return str(caught.value)
        finally:
            await engine.close()

    said = asyncio.run(scenario())
    assert said == f"create {name}: {rt.name} at {rt.socket} has no image {image}"
