"""A conversion written as a corral TOML file with comments (tomlkit, imported
here only: ``corral import compose`` is its one user).

Each record is written in the order of its compose keys; a key corral did not
convert stands as a comment at its place, with its value and the reason.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from corral.config.compose.model import Conversion, Output, Skipped

_SECTIONS = {"container": "container", "network": "network", "volume": "volume"}
_LABEL = {"container": "services", "network": "networks", "volume": "volumes"}


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def comment_of(skipped: Skipped, partly: bool = False) -> str:
    how = "partly converted" if partly else "not converted"
    return f"{skipped.key} = {_shown(skipped.value)}  -- {how}: {skipped.reason}"


def to_toml(conversion: Conversion, sources: list[str]) -> str:
    import tomlkit

    document = tomlkit.document()
    names = ", ".join(os.path.basename(s) for s in sources)
    document.add(tomlkit.comment(f"Converted from {names} by `corral import compose`."))
    document.add(tomlkit.comment("Keys that were not converted stand as comments at their place."))
    if conversion.project_name:
        document.add(
            tomlkit.comment(
                f"Project {conversion.project_name!r}: its prefix is already in the names below."
            )
        )
    tables: dict[str, Any] = {}
    for record in conversion.records:
        if record.kind == "top":
            document.add(tomlkit.nl())
            for entry in record.entries:
                for key, value in entry.values.items():
                    document.add(key, _value(value))
                if entry.skipped is not None:
                    document.add(tomlkit.comment(comment_of(entry.skipped)))
            continue
        table = tomlkit.table()
        table.add(tomlkit.comment(f"{_LABEL[record.kind]}.{record.name}"))
        _fill(table, record)
        table.add(tomlkit.nl())
        section = _SECTIONS[record.kind]
        if section not in tables:
            tables[section] = tomlkit.aot()
            document.add(section, tables[section])
        tables[section].append(table)
    return re.sub(r"\n{3,}", "\n\n", tomlkit.dumps(document)).rstrip("\n") + "\n"


def _fill(table: Any, record: Output) -> None:
    seen: set[str] = set()
    merged = record.data()
    for entry in record.entries:
        for key, value in entry.values.items():
            if key in seen:
                table[key] = _value(merged[key])
            else:
                table.add(key, _value(value))
                seen.add(key)
        if entry.skipped is not None:
            import tomlkit

            table.add(tomlkit.comment(comment_of(entry.skipped, bool(entry.values))))


def _value(value: Any) -> Any:
    import tomlkit

    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        for k, v in value.items():
            inline.append(k, _value(v))
        return inline
    if isinstance(value, list):
        array = tomlkit.array()
        for member in value:
            array.append(_value(member))
        if len(value) > 3 or any(isinstance(m, dict) for m in value):
            array.multiline(True)
        return array
    return value
