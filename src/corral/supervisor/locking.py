"""What ``corral lock``, ``lock --check``, ``plan`` and ``update`` ask of
registries: every image's pin now, and how the lock differs from it.

A string image is resolved to its registry's manifest digest (``engine.registry``:
the registry's API; on docker, dockerd's for the tags corral does not reach),
``AT_ONCE`` at a time; an
image record corral builds is pinned by its image ID (its layers hashed, the
digest cache sparing unchanged files). Nothing here writes but ``corral lock``'s
``write_lock``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corral.config import Config, OciImage
from corral.config.lockfile import Lock, Pin, declared_images
from corral.engine.credentials import Credentials

if TYPE_CHECKING:
    from corral.engine.client import Engine


@dataclass(frozen=True)
class Drift:
    """A pinned image whose registry (or build) names something else now."""

    reference: str
    old: str | None
    new: str

    def __str__(self) -> str:
        if self.old is None:
            return f"unlocked: {self.reference} → {self.new}"
        return f"drift: {self.reference} {self.old} → {self.new}"


async def resolve_pins(config: Config, state_dir: str) -> tuple[list[Pin], list[str]]:
    """A pin for every image of ``config`` (as declared, unlocked), and the
    one-line problems of those that could not be resolved. The registries are
    asked first; dockerd (on docker) only for the tags whose registry corral
    did not reach (so a lock connects to no engine, nor imports its client,
    when the registries answer)."""
    from corral.engine.registry import Unreachable, resolve_all

    images = declared_images(config)
    strings = [r for r, image in images.items() if isinstance(image, str)]
    records = {r: image for r, image in images.items() if isinstance(image, OciImage)}
    credentials = Credentials(config.registries, config.runtime)
    now = dt.datetime.now(dt.UTC)

    async def built(image: OciImage) -> str | None:
        from corral.engine.images import known_id  # the image builder's, when there are any

        return await known_id(None, image, state_dir)

    resolved, ids = await asyncio.gather(
        resolve_all(None, strings, credentials),
        asyncio.gather(*(built(i) for i in records.values()), return_exceptions=True),
    )
    unreached = [r for r, answer in resolved.items() if isinstance(answer, Unreachable)]
    if unreached and config.runtime == "docker":
        engine = await engine_for_lock(config, state_dir)
        try:
            resolved.update(await resolve_all(engine, unreached, credentials, direct=False))
        finally:
            await engine.close()
    pins: list[Pin] = []
    problems: list[str] = []
    for reference, answer in resolved.items():
        if isinstance(answer, str):
            pins.append(Pin(reference, digest=answer, resolved=now))
        else:
            problems.append(str(answer))
    for reference, image_id in zip(records, ids, strict=True):
        if isinstance(image_id, str):
            pins.append(Pin(reference, image_id=image_id, resolved=now))
        else:
            problems.append(f"{reference}: {image_id}")
    return pins, problems


def drift(lock: Lock | None, pins: list[Pin]) -> list[Drift]:
    """How ``pins`` (resolved now) differ from ``lock``."""
    held = lock.pins if lock is not None else {}
    out: list[Drift] = []
    for pin in sorted(pins, key=lambda p: p.reference):
        old = held.get(pin.reference)
        if old is None:
            out.append(Drift(pin.reference, None, pin.value))
        elif old.value != pin.value:
            out.append(Drift(pin.reference, old.value, pin.value))
    return out


async def engine_for_lock(config: Config, state_dir: str) -> Engine:
    """The docker engine ``resolve_pins`` asks for the tags whose registry corral
    does not reach itself (dockerd may: its mirrors, certificates, proxy)."""
    from corral.engine.client import connect
    from corral.engine.endpoint import endpoint_for

    return await connect(endpoint_for(config, "docker", state_dir))
