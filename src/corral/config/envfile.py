"""Env files (``env_files``): ``KEY=VALUE`` lines, read as Compose reads them. Pure
parsing, plus the one read of a file.

Blank lines and lines starting with ``#`` are skipped; a line may start with
``export``; a value may be single-quoted (literal), double-quoted (``\\n``,
``\\t``, ``\\r``, ``\\\\`` and ``\\"`` are escapes; a quote may span lines) or
bare (trailing whitespace and a `` #`` comment dropped). There is no
interpolation: ``$NAME`` stays as written. A line without ``=`` is refused
(write ``KEY=`` for an empty value). Errors name the line, never a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}


class EnvFileError(ValueError):
    """A line that is not ``KEY=VALUE`` (the message names the line, not a value)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse_env(text: str) -> list[tuple[str, str]]:
    """The ``(KEY, VALUE)`` pairs of an env file's ``text``, in order."""
    pairs: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep:
            raise EnvFileError(number, "expected KEY=VALUE (KEY= for an empty value)")
        if not _KEY.fullmatch(key):
            raise EnvFileError(number, "the key must be letters, digits, '_', '.' and '-'")
        rest = rest.lstrip()
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            while True:
                end = _closing(body, quote)
                if end is not None:
                    break
                if i >= len(lines):
                    raise EnvFileError(number, f"the value's opening {quote} is never closed")
                body += "\n" + lines[i]
                i += 1
            value, after = body[:end], body[end + 1 :].strip()
            if after and not after.startswith("#"):
                raise EnvFileError(number, "only a # comment may follow a quoted value")
            if quote == '"':
                value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), value)
        else:
            value = re.split(r"\s#", rest, maxsplit=1)[0].rstrip()
        pairs.append((key, value))
    return pairs


def _closing(body: str, quote: str) -> int | None:
    """Where ``quote`` closes in ``body`` (a double quote may be escaped)."""
    j = 0
    while j < len(body):
        if quote == '"' and body[j] == "\\":
            j += 2
            continue
        if body[j] == quote:
            return j
        j += 1
    return None


@dataclass(frozen=True)
class EnvFile:
    """One env file as read: its path, its content (for the keyed digest) and pairs."""

    path: str
    content: bytes
    pairs: tuple[tuple[str, str], ...]


def read_env_file(path: str) -> EnvFile:
    """Read and parse ``path``: ``OSError`` when unreadable, ``EnvFileError`` when
    malformed (or not UTF-8)."""
    with open(path, "rb") as stream:
        content = stream.read()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EnvFileError(content[: error.start].count(b"\n") + 1, "not UTF-8 text") from None
    return EnvFile(path, content, tuple(parse_env(text)))
