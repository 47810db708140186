"""``corral export``: the same declarations for other engines — Compose (and
Swarm), Kubernetes, systemd units, Podman Quadlet. Each target is a pure
renderer fed by the container spec, with one field-by-field table that both the
renderer and ``docs/exports.md`` read (``model.Table``). No I/O here: the CLI
writes the files and prints the warnings.
"""

from __future__ import annotations

import importlib
from typing import Any

from corral.config import Config
from corral.render.export.model import TARGETS, Exported, ExportWarning, Settings, Target

__all__ = ["TARGETS", "ExportWarning", "Exported", "Settings", "Target", "export", "tables"]


def _module(target: Target) -> Any:
    return importlib.import_module(f"corral.render.export.{target}")


def export(config: Config, target: Target, settings: Settings | None = None) -> Exported:
    """``config`` as ``target``'s files, with every warning."""
    from corral.render.export.model import config_warnings

    settings = settings or Settings()
    result: Exported = _module(target).render(config, settings)
    top = config_warnings(config, result.target, settings)
    if top and result.files:
        first = next(iter(result.files))
        notes = "".join(f"# {w.comment} (top level)\n" for w in top)
        result.files[first] = notes + result.files[first]
    result.warnings[:0] = top
    return result


def tables(target: Target) -> tuple[Any, ...]:
    """``target``'s field tables (one per record type), the top level's first."""
    from corral.render.export.model import CONFIG_TABLE

    return (CONFIG_TABLE, *_module(target).ALL_TABLES)
