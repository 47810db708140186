"""Line numbers for field paths of a TOML document.

tomllib gives values but no positions, so this module scans the (already
parsed, so valid) text once and records the line where each path starts:
table headers, ``[[array]]`` entries (numbered as tomllib numbers them),
keys, and the members of arrays and inline tables. ``line_of`` then answers
for the longest recorded prefix of a path, so a missing key points at its
table and a bad array member at the member itself.
"""

from __future__ import annotations

import contextlib

from corral.errors import Path

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class TomlLocator:
    def __init__(self, text: str) -> None:
        self._text = text
        self._i = 0
        self._line = 1
        self.lines: dict[Path, int] = {}
        self._arrays: dict[Path, int] = {}
        with contextlib.suppress(IndexError, ValueError):
            self._document()  # best effort: what was recorded before a surprise still helps

    def line_of(self, path: Path) -> int | None:
        """The line of the longest recorded prefix of ``path``."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    # -- scanning ----------------------------------------------------------

    def _peek(self, offset: int = 0) -> str:
        j = self._i + offset
        return self._text[j] if j < len(self._text) else ""

    def _advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self._i < len(self._text) and self._text[self._i] == "\n":
                self._line += 1
            self._i += 1

    def _skip_blank(self, newlines: bool) -> None:
        while self._i < len(self._text):
            char = self._text[self._i]
            if char in " \t\r" or (newlines and char == "\n"):
                self._advance()
            elif char == "#":
                while self._i < len(self._text) and self._text[self._i] != "\n":
                    self._i += 1
            else:
                return

    def _document(self) -> None:
        table: Path = ()
        while True:
            self._skip_blank(newlines=True)
            if self._i >= len(self._text):
                return
            if self._peek() == "[":
                table = self._header()
            else:
                self._key_value(table)

    def _header(self) -> Path:
        line = self._line
        array = self._peek(1) == "["
        self._advance(2 if array else 1)
        keys = self._keys()
        self._advance(2 if array else 1)
        if array:
            path = (*self._resolve(keys[:-1]), keys[-1])
            index = self._arrays.get(path, -1) + 1
            self._arrays[path] = index
            path = (*path, index)
        else:
            path = self._resolve(keys)
        self.lines.setdefault(path, line)
        return path

    def _resolve(self, keys: list[str]) -> Path:
        """Insert array-of-tables indices for already seen arrays along ``keys``."""
        path: Path = ()
        for key in keys:
            path = (*path, key)
            if path in self._arrays:
                path = (*path, self._arrays[path])
        return path

    def _keys(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            keys.append(self._key())
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._advance()

    def _key(self) -> str:
        char = self._peek()
        if char in "\"'":
            return self._string()
        start = self._i
        while self._peek() in _BARE and self._peek():
            self._advance()
        if start == self._i:
            raise ValueError("no key")
        return self._text[start : self._i]

    def _key_value(self, table: Path) -> None:
        line = self._line
        keys = self._keys()
        path = (*table, *keys)
        self.lines.setdefault(path, line)
        self._skip_blank(newlines=False)
        self._advance()  # '='
        self._skip_blank(newlines=False)
        self._value(path)

    def _value(self, path: Path) -> None:
        char = self._peek()
        if char == "[":
            self._advance()
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._peek() == "]":
                    self._advance()
                    return
                self.lines.setdefault((*path, index), self._line)
                self._value((*path, index))
                index += 1
                self._skip_blank(newlines=True)
                if self._peek() == ",":
                    self._advance()
        elif char == "{":
            self._advance()
            while True:
                self._skip_blank(newlines=False)
                if self._peek() == "}":
                    self._advance()
                    return
                self._key_value(path)
                self._skip_blank(newlines=False)
                if self._peek() == ",":
                    self._advance()
        elif char in "\"'":
            self._string()
        else:
            while self._peek() and self._peek() not in ",]}\n#" and self._peek() not in " \t\r":
                self._advance()

    def _string(self) -> str:
        quote = self._peek()
        if self._text.startswith(quote * 3, self._i):
            self._advance(3)
            end = self._text.find(quote * 3, self._i)
            while quote == '"' and end > 0 and _escaped(self._text, end):
                end = self._text.find(quote * 3, end + 1)
            while self._text.startswith(quote, end + 3):  # up to two quotes may end the body
                end += 1
            body = self._text[self._i : end]
            self._advance(end + 3 - self._i)
            return body
        self._advance()
        start = self._i
        while self._peek() != quote:
            if quote == '"' and self._peek() == "\\":
                self._advance()
            self._advance()
        body = self._text[start : self._i]
        self._advance()
        return body.encode().decode("unicode_escape") if quote == '"' and "\\" in body else body


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index > 0 and text[index - 1] == "\\":
        backslashes += 1
        index -= 1
    return backslashes % 2 == 1
