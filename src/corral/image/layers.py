"""Popularity layering: which unit of content goes to which layer (pure).

The algorithm, as Nix's ``buildLayeredImage`` and ``guix pack --max-layers``:

1. The budget is ``max_layers``, less one for a final layer when the image has
   ``symlinks`` (that layer holds them, above everything they may point at).
2. The rootfs, when there is one, comes first: it is the base every other
   unit is laid over, so it always sits at the bottom.
3. The other units are ranked by popularity — how many programs need them, so
   a libc shared by every program ranks above any one program — then by kind
   (libraries, programs, files), then by image path bytes. The ranking depends
   only on the inputs, never on the host's directory order.
4. If every unit fits the budget, each gets its own layer. Otherwise the first
   ``budget - 1`` ranked units get their own layers and all the rest are
   merged into one layer. The most shared content thus sits in small layers
   that other images built from the same host share, and a change to a
   rarely shared file only changes the merged layer.
5. Each layer carries the parent directories of its entries (mode 0755),
   placed through the rootfs's symlinks, so a layer never replaces a rootfs
   symlink such as ``/lib -> usr/lib`` with a directory. Entries are sorted
   by path bytes; in a merged layer a later unit's file wins over an
   earlier one's (only the rootfs can be overridden; other conflicts were
   refused when the content was collected).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from corral.image.content import Content, Unit, resolve
from corral.image.tarball import Entry

_KIND_RANK = {"rootfs": 0, "library": 1, "program": 2, "files": 3}


@dataclass(frozen=True)
class Layer:
    entries: tuple[Entry, ...]
    comment: str

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


def rank(units: Iterable[Unit]) -> list[Unit]:
    """Units in layer order: rootfs, then most popular first, stable."""
    return sorted(
        units,
        key=lambda u: (
            u.kind != "rootfs",
            -u.popularity,
            _KIND_RANK[u.kind],
            os.fsencode(u.key),
        ),
    )


def partition(ranked: Sequence[Unit], budget: int) -> list[list[Unit]]:
    """Own layers for the first ``budget - 1`` units when they don't all fit, one for the rest."""
    if len(ranked) <= budget:
        return [[u] for u in ranked]
    head = max(budget - 1, 0)
    return [[u] for u in ranked[:head]] + [list(ranked[head:])]


def _place(entry: Entry, links: Mapping[str, str]) -> Entry:
    """``entry`` with its parent directories resolved through the rootfs's symlinks."""
    parent, name = posixpath.split(entry.path)
    if not parent or not links:
        return entry
    real = resolve(parent, links, follow_last=True)
    if real is None or real == parent:
        return entry
    return Entry(
        posixpath.join(real, name) if real else name,
        entry.kind,
        entry.mode,
        entry.size,
        entry.source,
        entry.target,
        entry.devmajor,
        entry.devminor,
    )


def layer_entries(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Deduplicated entries plus missing parent directories, sorted by path bytes."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        old = by_path.get(entry.path)
        if old is None or old.kind != "dir" or entry.kind != "dir":
            by_path[entry.path] = entry
    for path in list(by_path):
        parent = posixpath.dirname(path)
        while parent and parent not in by_path:
            by_path[parent] = Entry(parent, "dir", 0o755)
            parent = posixpath.dirname(parent)
    return tuple(by_path[p] for p in sorted(by_path, key=os.fsencode))


def _comment(units: Sequence[Unit]) -> str:
    if len(units) == 1:
        unit = units[0]
        if unit.kind == "rootfs":
            return "rootfs (image.rootfs)"
        shared = f", needed by {unit.popularity} programs" if unit.popularity > 1 else ""
        return f"{unit.kind} /{unit.entries[0].path if unit.entries else ''} ({unit.field}{shared})"
    return (
        f"{len(units)} merged units: "
        + ", ".join(u.field for u in units[:5])
        + (", …" if len(units) > 5 else "")
    )


def plan(content: Content, max_layers: int) -> list[Layer]:
    """The layers of an image of ``content``, at most ``max_layers`` of them."""
    units = [u for u in content.units if u.entries]
    rootfs_links = {
        e.path: e.target
        for u in units
        if u.kind == "rootfs"
        for e in u.entries
        if e.kind == "symlink"
    }
    symlinks = [_place(e, rootfs_links) for e in content.symlinks]
    if max_layers == 1:
        everything = [
            e if u.kind == "rootfs" else _place(e, rootfs_links)
            for u in rank(units)
            for e in u.entries
        ]
        return [Layer(layer_entries([*everything, *symlinks]), "all content (max_layers = 1)")]
    budget = max_layers - (1 if symlinks else 0)
    layers = [
        Layer(
            layer_entries(
                e if u.kind == "rootfs" else _place(e, rootfs_links)
                for u in group
                for e in u.entries
            ),
            _comment(group),
        )
        for group in partition(rank(units), budget)
    ]
    if symlinks:
        layers.append(Layer(layer_entries(symlinks), "symlinks (image.symlinks)"))
    if not layers:
        layers.append(Layer((), "empty"))
    return layers
