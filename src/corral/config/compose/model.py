"""What a conversion produces: per record, the corral keys each compose key became
or a note why it was left out; where each corral path came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corral.config.compose.project import ComposeProject
from corral.errors import Path

#: The corral lists that more than one compose key fills.
MERGED = frozenset({"tmpfs", "requirement"})


@dataclass(frozen=True)
class Skipped:
    """A compose key corral did not convert, and why."""

    owner: str  # "services.web", "networks.front", "top level"
    key: str
    path: Path
    value: Any
    reason: str


@dataclass
class Entry:
    """What one compose key became: corral keys and values, or a Skipped."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    skipped: Skipped | None = None


@dataclass
class Output:
    """One corral record: ``container``, ``network``, ``volume`` or ``top``."""

    kind: str
    name: str
    entries: list[Entry] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        """The record's keys; a list two compose keys fill (``tmpfs`` from ``tmpfs``
        and tmpfs ``volumes``, ``requirement`` from ``depends_on`` and ``links``) is
        their union, in order; any other later value wins."""
        out: dict[str, Any] = {}
        for entry in self.entries:
            for key, value in entry.values.items():
                if key in MERGED and isinstance(out.get(key), list):
                    out[key] = [*out[key], *(v for v in value if v not in out[key])]
                else:
                    out[key] = value
        return out


@dataclass
class Conversion:
    """A converted project: the records, where each corral path came from, what was left out."""

    project: ComposeProject
    records: list[Output]
    origins: dict[Path, Path]
    project_name: str | None

    @property
    def skipped(self) -> list[Skipped]:
        return [e.skipped for r in self.records for e in r.entries if e.skipped is not None]

    def data(self) -> dict[str, Any]:
        """The records as TOML data (``container``, ``network``, ``volume`` arrays)."""
        out: dict[str, Any] = {}
        for record in self.records:
            if record.kind == "top":
                out.update(record.data())
            else:
                out.setdefault(record.kind, []).append(record.data())
        return out

    def origin(self, path: Path) -> Path:
        """The compose path that produced corral's ``path`` (its longest mapped prefix)."""
        for end in range(len(path), -1, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return ()

    def count(self, kind: str) -> int:
        return sum(1 for r in self.records if r.kind == kind)


def tail(skipped: Skipped) -> tuple[str, Path, Any, str]:
    return skipped.key, skipped.path, skipped.value, skipped.reason
