"""What a changed configuration would do to the running one, and why (pure).

What a change to each field does is declared on the field (``Record.change_of``):
``in_place`` changes are applied to the running service ("update"); any other
restarts it (for a container, a new one: its config hash changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from corral.config import Declared

Op = Literal["start", "stop", "restart", "update", "remove"]


@dataclass(frozen=True)
class Change:
    op: Op
    name: str
    why: str

    def __str__(self) -> str:
        return f"{self.op} {self.name}: {self.why}"


def changed_fields(old: Declared, new: Declared) -> list[str]:
    if old.kind != new.kind:
        return ["kind"]
    before, after = old.record.model_dump(), new.record.model_dump()
    fields = [k for k in after if before.get(k) != after.get(k)]
    if old.requirement != new.requirement and "requirement" not in fields:
        fields.append("requirement")
    return fields


def plan(running: Sequence[Declared], wanted: Sequence[Declared]) -> list[Change]:
    """Stop what is gone, restart what changed, start what is new (in that order)."""
    old = {s.name: s for s in running}
    new = {s.name: s for s in wanted}
    changes: list[Change] = [
        Change("stop", name, "no longer declared") for name in old if name not in new
    ]
    for name, service in new.items():
        if name not in old:
            why = "newly declared" if service.auto_start else "newly declared (auto_start off)"
            changes.append(Change("start", name, why))
            continue
        fields = changed_fields(old[name], service)
        record = type(service.record)
        in_place = {
            f for f in fields if f in record.model_fields and record.change_of(f) == "in_place"
        }
        if "requirement" in fields:
            in_place.add("requirement")  # the graph only: implicit ones follow other fields
        if fields and set(fields) <= in_place:
            changes.append(Change("update", name, "changed " + ", ".join(fields) + " (no restart)"))
        elif fields:
            changes.append(Change("restart", name, "changed " + ", ".join(fields)))
    return changes
