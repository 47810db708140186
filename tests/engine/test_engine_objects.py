"""Pull, networks and volumes, the Podman API service, on real engines."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from engine_runtime import Runtime

from corral.config import Network, Volume
from corral.engine import networks
from corral.engine.client import connect, ensure_podman_service, socket_answers
from corral.engine.endpoint import at
from corral.engine.pull import PullError, pull, qualified_reference

pytestmark = pytest.mark.engine


def test_pull_without_registry_fails_readably(rt: Runtime) -> None:
    """Over the API both engines read a short name as docker.io/library/NAME
    (Podman's compatible API does, where its CLI refuses short names)."""
    short = f"corral-no-such-image-{uuid.uuid4().hex[:8]}"
    image = f"docker.io/library/{short}:1"

    async def scenario() -> list[str]:
        engine = await connect(at(rt.name, rt.socket))
        try:
            messages = []
            for reference in (image, short):
                with pytest.raises(PullError) as caught:
                    await pull(engine, reference)
                messages.append(str(caught.value))
            return messages
        finally:
            await engine.close()

    qualified, implied = asyncio.run(scenario())
    assert qualified.startswith(f"pull {image}: no registry answered (")
    assert "\n" not in qualified
    assert implied.startswith(f"pull docker.io/library/{short}:latest: no registry answered (")


def test_network_and_volume_created_once_then_drift_reported(rt: Runtime) -> None:
    tag = uuid.uuid4().hex[:8]
    octet = int(tag[:2], 16) % 200 + 20
    net = Network(
        name=f"corral-t-net-{tag}",
        subnet=f"10.231.{octet}.0/24",
        gateway=f"10.231.{octet}.1",
        labels={"corral.test": tag},
    )
    vol = Volume(name=f"corral-t-vol-{tag}", labels={"corral.test": tag})

    async def scenario() -> None:
        engine = await connect(at(rt.name, rt.socket))
        try:
            first = await networks.ensure_network(engine, net)
            again = await networks.ensure_network(engine, net)
            assert (first.created, again.created, again.drift) == (True, False, ())
            changed = net.model_copy(update={"internal": True, "labels": {"corral.test": "x"}})
            drift = await networks.network_drift_of(engine, changed)
            assert drift is not None
            assert {d.field for d in drift} == {"internal", "labels.corral.test"}
            assert "internal: declared True, engine has False" in [str(d) for d in drift]
            # Drift is reported, never "fixed" by deleting.
            assert (await networks.ensure_network(engine, changed)).created is False
            assert await networks.inspect_network(engine, net.name) is not None

            v1 = await networks.ensure_volume(engine, vol)
            v2 = await networks.ensure_volume(engine, vol)
            assert (v1.created, v2.created, v2.drift) == (True, False, ())
            other = vol.model_copy(update={"labels": {"corral.test": "y"}})
            assert [d.field for d in await networks.volume_drift_of(engine, other) or []] == [
                "labels.corral.test"
            ]
            missing = Volume(name=f"corral-t-absent-{tag}")
            assert await networks.volume_drift_of(engine, missing) is None
        finally:
            assert await networks.remove_network(engine, net.name) in (True, False)
            assert await networks.remove_volume(engine, vol.name) in (True, False)
            assert await networks.remove_network(engine, net.name) is False
            await engine.close()

    asyncio.run(scenario())


def test_ensure_podman_service_starts_one_when_none_answers(podman_engine: str) -> None:
    path = f"/run/corral/podman-ensure-{os.getpid()}.sock"

    async def scenario() -> None:
        assert not await socket_answers(path)
        service = await ensure_podman_service(path)
        try:
            assert service.pid is not None and await socket_answers(path)
            again = await ensure_podman_service(path)
            assert again.pid == service.pid  # answered: not started twice, taken over
            engine = await connect(at("podman", path, own_service=True))
            assert engine.service is not None and engine.service.pid == service.pid
            version = await engine.api.get("/version")
            assert version["Version"].startswith("4.")
            await engine.close()
        finally:
            await service.stop()
        assert not await socket_answers(path)

    try:
        asyncio.run(scenario())
    finally:
        for leftover in (path, path + ".log", path + ".pid"):
            if os.path.exists(leftover):
                os.unlink(leftover)


@pytest.mark.parametrize(
    ("reference", "qualified"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("team/app:1", "docker.io/team/app:1"),
        ("registry:5000/a/b", "registry:5000/a/b:latest"),
        ("localhost/web@sha256:ab", "localhost/web@sha256:ab"),
        ("quay.io/x/y:2", "quay.io/x/y:2"),
    ],
)
def test_qualified_reference(reference: str, qualified: str) -> None:
    assert qualified_reference(reference) == qualified
