"""A record as corral resolved it, for people: plain data, secrets hidden. Pure.

Every field a record marks secret (``Record.is_secret``: host_environment)
keeps only its shape: a ``KEY=VALUE`` member shows as ``KEY=***``, any
other value as ``***``. Nested records are walked the same way.
"""

from __future__ import annotations

from typing import Any

from corral.config._base import Record

HIDDEN = "***"


def _hide(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_hide(v) for v in value]
    if isinstance(value, str) and "=" in value:
        return value.split("=", 1)[0] + "=" + HIDDEN
    return HIDDEN if value not in (None, "", (), []) else value


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return redacted(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def redacted(record: Record) -> dict[str, Any]:
    """``record``'s fields by name, secret values replaced by ``***``."""
    out: dict[str, Any] = {}
    for name in type(record).model_fields:
        value = getattr(record, name)
        out[name] = _hide(value) if record.is_secret(name) else _plain(value)
    return out
