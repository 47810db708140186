"""Layer digests remembered by their files' stamps, so an image unchanged since
its last load is not read again to learn its ID.

A container service makes its image present (``engine.images.present``) at
every start, respawns included; hashing a 1 GB image there costs over a
second each time. A layer's digest depends only on its tar headers (paths,
modes, sizes, targets), the fixed mtime, and the bytes of its source files; so
its key is a SHA-256 of the headers, the mtime, and each source file's path
and stamp (inode, size, mtime and ctime in ns: no write leaves all of them as
they were). A layer whose key is known has its digest without a byte being
read.

The cache is one small JSON file in the state directory, replaced whole
(atomically) when it learns something; its newest ``KEEP`` keys are kept. A
file that cannot be read or written is an empty cache, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from corral.image.archive import LayerDigest, Stamp, stamp
from corral.image.layers import Layer
from corral.image.tarball import headers, tar_size

FILE_NAME = "image-digests.json"
KEEP = 256


def layer_key(
    layer: Layer, mtime: int, stamps: Mapping[str, Stamp], heads: Sequence[bytes] | None = None
) -> str | None:
    """The cache key of ``layer`` (whose tar ``heads`` may be given) with its
    source files at these ``stamps`` (pure); None when one has no stamp."""
    key = hashlib.sha256(f"corral layer v1 {mtime}\n".encode())
    heads = headers(layer.entries, mtime) if heads is None else heads
    for entry, head in zip(layer.entries, heads, strict=True):
        key.update(head)
        if entry.source is None:
            continue
        if entry.source not in stamps:
            return None
        key.update(f"{entry.source}\0{stamps[entry.source]}\n".encode())
    return key.hexdigest()


def current_stamps(layers: Sequence[Layer]) -> dict[str, Stamp] | None:
    """The stamps of every source file of ``layers`` now; None when one cannot be
    looked at (the hash pass will say why)."""
    stamps: dict[str, Stamp] = {}
    for layer in layers:
        for entry in layer.entries:
            if entry.source is not None and entry.source not in stamps:
                try:
                    stamps[entry.source] = stamp(os.stat(entry.source))
                except OSError:
                    return None
    return stamps


@dataclass(frozen=True)
class Known:
    """Every layer's digest, from the cache, and the stamps it was keyed with."""

    digests: tuple[LayerDigest, ...]
    stamps: Mapping[str, Stamp]


class DigestCache:
    """The layer digests a state directory remembers."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, FILE_NAME)

    def _read(self) -> dict[str, list[object]]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, layers: Sequence[Layer], mtime: int) -> Known | None:
        """Every layer's digest when all are known for the files as they are now."""
        remembered = self._read()
        stamps = current_stamps(layers) if remembered else None
        if stamps is None:
            return None
        digests: list[LayerDigest] = []
        for layer in layers:
            heads = headers(layer.entries, mtime)
            value = remembered.get(layer_key(layer, mtime, stamps, heads) or "")
            if not (isinstance(value, list) and len(value) == 2):
                return None
            digest, size = value
            if not isinstance(digest, str) or size != tar_size(layer.entries, mtime, heads):
                return None
            digests.append((digest, size))
        return Known(tuple(digests), stamps)

    def recall(self, key: str) -> str | None:
        """The string kept under ``key`` by ``keep`` (a build context's digest, a
        Dockerfile build's image ID), or None."""
        value = self._read().get(key)
        if isinstance(value, list) and len(value) == 2 and value[0] == "value":
            return value[1] if isinstance(value[1], str) else None
        return None

    def keep(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key`` (beside the layer digests, in one file)."""
        self._write({key: ["value", value]})

    def remember(
        self,
        layers: Sequence[Layer],
        mtime: int,
        digests: Sequence[LayerDigest],
        stamps: Mapping[str, Stamp],
    ) -> None:
        """Keep ``digests`` for ``layers``, keyed by the ``stamps`` their files had
        when the hash pass opened them: a file written since (or during) that
        pass has another stamp, so its layer's entry can never match again."""
        learnt: dict[str, list[object]] = {}
        for layer, (digest, size) in zip(layers, digests, strict=True):
            key = layer_key(layer, mtime, stamps)
            if key is not None:
                learnt[key] = [digest, size]
        if learnt:
            self._write(learnt)

    def _write(self, learnt: dict[str, list[object]]) -> None:
        merged = {k: v for k, v in self._read().items() if k not in learnt}
        merged.update(learnt)
        newest = dict(list(merged.items())[-KEEP:])
        tmp = f"{self.path}.tmp-{os.getpid()}"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(newest, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
