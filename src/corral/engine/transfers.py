"""What a pull or push is doing, layer by layer, for whoever watches.

The engines stream a transfer's progress as JSON lines (``POST /images/create``,
``POST /images/{name}/push``). dockerd 20.10 sends, per layer (``id``), a
``status`` (``Pulling fs layer``, ``Waiting``, ``Downloading``, ``Verifying
Checksum``, ``Download complete``, ``Extracting``, ``Pull complete``,
``Already exists``; ``Pushing``, ``Pushed``, ``Layer already exists``) with
``progressDetail: {current, total}`` in bytes while bytes move, then
``Digest: sha256:…`` and a ``Status:`` line without an ``id``. Podman 4.3's
compatible API sends only ``Pulling fs layer`` and ``Download complete`` per
layer, ``progressDetail`` empty (seen here against Distribution 2.8): its
bars have no byte counts, only their layers' ends.

``Transfers`` is a broadcast within one process (the daemon's engine hub holds
one): each pull or push ``begin``s a ``Transfer``, whose ``event`` turns the
engine's lines into messages ``{"image", "verb", "layer", "status",
"current", "total"}``, and whose ``end`` sends ``{"image", "verb", "done":
true, "layers", "digest", "error"}``. A control request that asked for
progress subscribes for as long as it runs and forwards them (``control.
server``); nobody listening costs a dict per line. No message carries a
credential: the engines' lines carry none, and the error is the pull's own
one-line message (secrets redacted there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Messages kept for a subscriber that reads slowly; past it, progress lines are
#: dropped (a transfer's ``done`` never is).
BACKLOG = 2048


def layer_of(event: dict[str, Any]) -> str | None:
    """The layer an engine's progress line is about, or None (the image's own
    lines: ``Pulling from …``, ``Digest: …``, a push's tag)."""
    layer = event.get("id")
    if not isinstance(layer, str) or not layer or " " in layer or ":" in layer:
        return None
    status = str(event.get("status") or "")
    if status.startswith("Pulling from") or status.startswith("The push refers to"):
        return None
    return layer


class Subscriber:
    """The messages published since ``subscribe``, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def put(self, message: dict[str, Any]) -> None:
        if self.queue.qsize() < BACKLOG or message.get("done"):
            self.queue.put_nowait(message)


class Transfers:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    @contextmanager
    def subscribe(self) -> Iterator[Subscriber]:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    def publish(self, message: dict[str, Any]) -> None:
        for subscriber in self._subscribers:
            subscriber.put(message)

    def begin(self, verb: str, reference: str) -> Transfer:
        return Transfer(self, verb, reference)


class Transfer:
    """One pull or push of ``reference``: its layers, and its digest when said."""

    def __init__(self, feed: Transfers | None, verb: str, reference: str) -> None:
        self.feed = feed
        self.verb = verb
        self.reference = reference
        self.layers: set[str] = set()
        self.digest: str | None = None

    def event(self, event: dict[str, Any]) -> None:
        """One of the engine's progress lines."""
        status = str(event.get("status") or "")
        if status.startswith("Digest: "):
            self.digest = status.removeprefix("Digest: ").strip().split()[0]
        layer = layer_of(event)
        if layer is None:
            return
        self.layers.add(layer)
        if self.feed is None:
            return
        detail = event.get("progressDetail") or {}
        current, total = detail.get("current"), detail.get("total")
        self.feed.publish({
            "image": self.reference, "verb": self.verb, "layer": layer, "status": status,
            "current": current if isinstance(current, int) else None,
            "total": total if isinstance(total, int) and total > 0 else None,
        })  # fmt: skip

    def end(self, error: str | None = None) -> None:
        if self.feed is not None:
            self.feed.publish({
                "image": self.reference, "verb": self.verb, "done": True,
                "layers": len(self.layers), "digest": self.digest, "error": error,
            })  # fmt: skip
