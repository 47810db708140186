"""``docs/exports.md``: the field-by-field tables of every target, generated
from the tables the renderers use (so it cannot go stale)."""

from __future__ import annotations

import importlib

from corral.render.export import TARGETS, tables
from corral.render.export.model import Row, Table

INTRO = """\
# corral export: field by field

Generated from the tables the exporters use (`src/corral/render/export/`);
`tests/render/test_export_docs.py` fails when this file is stale. Regenerate
with `python3 -m corral.render.export.docs > docs/exports.md`.

Every field a target cannot say is a warning on stderr naming the service, the
field and the target, and a comment in the output; `--strict` makes any warning
exit 1. A field left at its default says nothing. host_environment values never
appear in any export: a name the container reads becomes a reference (`${NAME}`,
`EnvironmentFile=`, a Secret with empty values).
"""

TITLES = {
    "compose": "Compose (`corral export compose [--swarm]`)",
    "kubernetes": "Kubernetes (`corral export kubernetes [--namespace NS] [--pvc]`)",
    "systemd": "systemd units (`corral export systemd [--user]`)",
    "quadlet": "Podman Quadlet (`corral export quadlet`)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(row: Row[object]) -> str:
    if row.put is not None:
        return "said"
    if row.with_field:
        return f"with `{row.with_field}`"
    return "warning"


def _table(table: Table[object]) -> list[str]:
    name = table.record.__name__
    lines = [f"### {name} → {table.title}", ""]
    since = any(row.since for row in table.rows)
    header = "| field | becomes | how |" + (" Podman |" if since else "")
    lines += [header, "|---|---|---|" + ("---|" if since else "")]
    for row in table.rows:
        says = row.says if row.put is not None or row.with_field else row.reason
        cells = [f"`{row.field}`", _cell(says), _status(row)]
        if since:
            cells.append(row.since or ("5.0" if row.put is not None else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def exports_markdown() -> str:
    lines = [INTRO]
    for target in TARGETS:
        try:
            target_tables = tables(target)
        except ModuleNotFoundError:
            continue
        lines += [f"## {TITLES[target]}", ""]
        notes = getattr(
            importlib.import_module(f"corral.render.export.{target}"), "doc_notes", None
        )
        if notes is not None:
            lines += notes()
        for table in target_tables:
            lines += _table(table)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(exports_markdown(), end="")
