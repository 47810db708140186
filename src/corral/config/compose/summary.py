"""The summary ``corral import compose`` prints: what was converted, and each
key that was not, by service, with the reason."""

from __future__ import annotations

from corral.config.compose.model import Conversion
from corral.errors import format_path


def summary(conversion: Conversion, written: str | None) -> str:
    secrets = sum(len(e.values.get("secrets", ())) for r in conversion.records for e in r.entries)
    lines = [
        ("wrote " + written + ": " if written else "")
        + f"{conversion.count('container')} services, {conversion.count('network')} networks, "
        f"{conversion.count('volume')} volumes, {secrets} secret mounts converted"
    ]
    skipped = conversion.skipped
    if not skipped:
        lines.append("every key was converted")
        return "\n".join(lines)
    keys = "1 key" if len(skipped) == 1 else f"{len(skipped)} keys"
    lines.append(f"{keys} not converted (comments in the file):")
    owner = None
    for item in skipped:
        if item.owner != owner:
            owner = item.owner
            lines.append(f"  {owner}:")
        lines.append(
            f"    {format_path(item.path[2:] if len(item.path) > 2 else item.path)}: {item.reason}"
        )
    return "\n".join(lines)
