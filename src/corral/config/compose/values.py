"""Compose's value grammars that corral spells differently: durations, byte
sizes, the long and short forms of ports and volumes. Pure; each raises
``ValueError`` with a message for the located problem."""

from __future__ import annotations

import re
from typing import Any

from corral.config._fields import show as _shown
from corral.errors import Path

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def seconds(value: Any) -> float:
    """``1m30s``, ``10s``, ``500ms`` (Go's durations; a bare number is seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration like 10s or 1m30s, but {_shown(value)} was found")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a duration like 10s or 1m30s, but {_shown(value)} was found")
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total, i = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != i:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        i = match.end()
    if i != len(text) or i == 0:
        raise ValueError(f"must be a duration like 10s or 1m30s, but {_shown(value)} was found")
    return round(total, 9)


def size(value: Any) -> str | int:
    """A byte size as corral takes it (``512m``, ``2g`` or bytes)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"must be a size like 512m or a number of bytes, but {_shown(value)} was found"
        )
    if isinstance(value, int):
        return value
    text = value.strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", text)
    if match is None:
        raise ValueError(
            f"must be a size like 512m or a number of bytes, but {_shown(value)} was found"
        )
    number, unit = match.groups()
    if "." in number:
        factor = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit]
        return int(float(number) * factor)
    return f"{number}{unit}" if unit and unit != "b" else int(number)


def port(value: Any) -> str:
    """A short (``"127.0.0.1:8080:80/udp"``, ``80``) or long (``{target, published,
    host_ip, protocol}``) port as corral's ``-p`` string."""
    if isinstance(value, bool):
        raise ValueError(f"must be a port string or mapping, but {_shown(value)} was found")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"must be a port string or mapping, but {_shown(value)} was found")
    unknown = set(value) - {
        "target",
        "published",
        "host_ip",
        "protocol",
        "mode",
        "name",
        "app_protocol",
    }
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} in a port mapping")
    target = value.get("target")
    if target is None:
        raise ValueError("a port mapping needs target (the container port)")
    text = str(target)
    published = value.get("published")
    host_ip = value.get("host_ip")
    if host_ip:
        address = f"[{host_ip}]" if ":" in str(host_ip) else str(host_ip)
        text = f"{address}:{published if published is not None else ''}:{text}"
    elif published is not None and published != "":
        text = f"{published}:{text}"
    protocol = value.get("protocol")
    if protocol and protocol != "tcp":
        text = f"{text}/{protocol}"
    return text


def volume(value: Any) -> tuple[str, str | None, str]:
    """A volume as ``(kind, source, corral's -v text without the source)``: kind
    ``bind``, ``volume`` or ``tmpfs``; for tmpfs the text is corral's tmpfs entry."""
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) == 1:
            return "volume", None, parts[0]
        source, rest = parts[0], ":".join(parts[1:])
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        return kind, source, rest
    if not isinstance(value, dict):
        raise ValueError(f"must be a volume string or mapping, but {_shown(value)} was found")
    unknown = set(value) - {
        "type",
        "source",
        "target",
        "read_only",
        "bind",
        "volume",
        "tmpfs",
        "consistency",
        "image",
    }
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} in a volume mapping")
    kind = value.get("type", "volume")
    target = value.get("target")
    if not isinstance(target, str):
        raise ValueError("a volume mapping needs target (the path in the container)")
    if kind == "tmpfs":
        tmpfs = value.get("tmpfs") or {}
        text = target
        if isinstance(tmpfs, dict) and tmpfs.get("size") is not None:
            text = f"{target}:size={size(tmpfs['size'])}"
        return "tmpfs", None, text
    if kind not in ("bind", "volume"):
        raise ValueError(
            f"volume type {_shown(kind)} is not one corral mounts (bind, volume, tmpfs)"
        )
    options: list[str] = []
    if value.get("read_only") in (True, "true"):
        options.append("ro")
    bind = value.get("bind")
    if isinstance(bind, dict) and bind.get("propagation"):
        options.append(str(bind["propagation"]))
    if isinstance(bind, dict) and bind.get("selinux"):
        options.append(str(bind["selinux"]))
    vol = value.get("volume")
    if isinstance(vol, dict) and vol.get("nocopy") in (True, "true"):
        options.append("nocopy")
    origin = value.get("source")
    mount = target + (":" + ",".join(options) if options else "")
    return kind, (str(origin) if origin else None), mount


def dig(model: Any, path: Path) -> Any:
    for part in path:
        inside = (isinstance(model, dict) and part in model) or (
            isinstance(model, list) and isinstance(part, int) and part < len(model)
        )
        if inside:
            model = model[part]
        else:
            return None
    return model


def split_reference(reference: str) -> tuple[str, str]:
    name = reference.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


def shown(value: Any) -> str:
    """A value as corral's messages show it."""
    return _shown(value)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise ValueError(f"must be true or false, but {shown(value)} was found")


def integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, but {shown(value)} was found")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"must be an integer, but {shown(value)} was found")


def string_map(value: Any, what: str) -> dict[str, str]:
    if isinstance(value, list):
        return {k: v for k, _, v in (str(m).partition("=") for m in value)}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a list or a mapping, but {shown(value)} was found")
    return {str(k): scalar(v) for k, v in value.items()}


def device(member: Any) -> Any:
    if isinstance(member, dict):
        parts = [str(member.get("source", "")), str(member.get("target", member.get("source")))]
        if member.get("permissions"):
            parts.append(str(member["permissions"]))
        return ":".join(parts)
    return member
