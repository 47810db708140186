"""Compose's variable interpolation in string values.

``$VAR`` and ``${VAR}``; ``${VAR:-default}`` (unset or empty) and
``${VAR-default}`` (unset); ``${VAR:?message}`` / ``${VAR?message}`` (an
error); ``${VAR:+other}`` / ``${VAR+other}``; ``$$`` is a literal ``$``.
Defaults and messages may hold interpolations themselves (``${A:-${B}}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A ``:?``/``?`` variable that is missing, or a malformed ``${…}``."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    return _scan(text, 0, env, closing=False)[0]


def _scan(text: str, i: int, env: Mapping[str, str], *, closing: bool) -> tuple[str, int]:
    """Expand from ``i``; with ``closing``, stop before an unmatched ``}``."""
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if closing and char == "}":
            return "".join(out), i
        if char != "$":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            value, i = _braced(text, i + 2, env)
            out.append(value)
        else:
            name = _NAME.match(text, i + 1)
            if name is None:
                out.append("$")
                i += 1
            else:
                out.append(env.get(name.group(), ""))
                i = name.end()
    if closing:
        raise InterpolationError(f"{text!r}: a `${{` has no closing `}}`")
    return "".join(out), i


def _braced(text: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    name = _NAME.match(text, i)
    if name is None:
        raise InterpolationError(f"{text!r}: invalid interpolation format at {text[i - 2 :]!r}")
    key = name.group()
    i = name.end()
    operator = ""
    for candidate in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(candidate, i):
            operator = candidate
            break
    if not operator:
        if text[i : i + 1] != "}":
            raise InterpolationError(
                f"{text!r}: invalid interpolation format at {text[i - len(key) - 2 :]!r}"
            )
        return env.get(key, ""), i + 1
    argument, end = _scan(text, i + len(operator), env, closing=True)
    value = env.get(key)
    unset_or_empty = not value
    missing = unset_or_empty if operator.startswith(":") else value is None
    kind = operator[-1]
    if kind == "-":
        return (argument if missing else str(value)), end + 1
    if kind == "+":
        return ("" if missing else argument), end + 1
    if missing:
        reason = argument or ("is empty or not set" if operator == ":?" else "is not set")
        raise InterpolationError(f"required variable {key} is missing a value: {reason}")
    return str(value), end + 1
