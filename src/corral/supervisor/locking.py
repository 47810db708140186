"""What ``corral lock``, ``lock --check``, ``plan`` and ``update`` ask of
registries: every image's pin now, and how the lock differs from it.

A string image is resolved to its registry's manifest digest (``engine.registry``;
through the engine on docker, the registry's API otherwise), all at once; an
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
from corral.errors import CorralError

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


async def resolve_pins(
    engine: Engine | None, config: Config, state_dir: str
) -> tuple[list[Pin], list[str]]:
    """A pin for every image of ``config`` (as declared, unlocked), and the
    one-line problems of those that could not be resolved."""
    from corral.engine.images import known_id
    from corral.engine.registry import resolve_all

    images = declared_images(config)
    strings = [r for r, image in images.items() if isinstance(image, str)]
    records = {r: image for r, image in images.items() if isinstance(image, OciImage)}
    credentials = Credentials(config.registries, config.runtime)
    now = dt.datetime.now(dt.UTC)

    async def built(image: OciImage) -> str | None:
        return await known_id(None, image, state_dir)

    resolved, ids = await asyncio.gather(
        resolve_all(engine if config.runtime == "docker" else None, strings, credentials),
        asyncio.gather(*(built(i) for i in records.values()), return_exceptions=True),
    )
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


async def engine_for_lock(config: Config, state_dir: str) -> Engine | None:
    """The engine ``resolve_pins`` asks, when it has the call (docker); None for
    Podman, whose registries are asked directly (no API service started)."""
    if config.runtime != "docker":
        return None
    from corral.engine.client import connect
    from corral.engine.endpoint import endpoint_for

    try:
        return await connect(endpoint_for(config, "docker", state_dir))
    except CorralError:
        raise
