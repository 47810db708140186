"""``.dockerignore``: which files of a build context are sent to the engine.

The rules are moby's (``github.com/moby/patternmatcher`` and its
``ignorefile``), which the docker CLI applies before it tars a context, written
here to the letter rather than borrowed: docker-py's port would bring
``requests`` and the whole SDK into the daemon for sixty lines, and
``pathspec`` implements gitignore's rules, which differ (gitignore's
unanchored names, ``dir/`` patterns; dockerignore anchors every pattern at the
context root and matches a directory's contents through its parents). What
they say:

* the file: a UTF-8 BOM dropped; lines starting with ``#`` skipped; each line
  trimmed; an empty line skipped; ``!`` marks an exception; the pattern is
  cleaned (``filepath.Clean``: ``a/./b//`` is ``a/b``) and a leading ``/``
  dropped;
* a pattern: ``*`` any run of characters but ``/``, ``?`` one such character,
  ``[…]`` a class, ``\\`` escapes, ``**`` any number of directories (``**/``
  at the start matches at the root too, a trailing ``**`` everything below);
* matching: patterns in order, the last that matches decides (an exception
  re-includes); a pattern that matches a parent directory matches everything
  in it (``MatchesUsingParentResults``);
* the walk: an excluded directory is not entered unless an exception pattern
  lies under it (moby's ``TarWithOptions``); the Dockerfile and
  ``.dockerignore`` are always sent (the CLI's ``TrimBuildFilesFromExcludes``),
  the daemon drops them from what ``COPY`` sees when they were excluded.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

FILE_NAME = ".dockerignore"
_BOM = "\ufeff"
#: Regexp characters that are not pattern characters (moby's ``shouldEscape``).
_ESCAPE = set(".+()|{}$")


class PatternError(ValueError):
    """A pattern that cannot be compiled (an unclosed ``[``, a lone ``!``)."""


def read_patterns(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` text, as moby's ``ignorefile.ReadAll``."""
    out: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append(f"!{pattern}" if invert else pattern)
    return out


def _clean(path: str) -> str:
    """Go's ``filepath.Clean`` (``posixpath.normpath`` keeps a leading ``//``)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


@dataclass
class Pattern:
    """One pattern, compiled as moby compiles it: ``kind`` is its match type."""

    text: str
    exclusion: bool
    kind: str  # "exact", "prefix", "suffix" or "regexp"
    regexp: re.Pattern[str] | None

    @classmethod
    def of(cls, text: str, exclusion: bool) -> Pattern:
        kind, regexp = compile_pattern(text)
        return cls(text, exclusion, kind, regexp)

    def matches(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.fullmatch(path) is not None


def compile_pattern(text: str) -> tuple[str, re.Pattern[str] | None]:
    """``text`` as moby's ``Pattern.compile`` sees it: its match type (``exact``:
    the same string, ``prefix``: ``A**``, ``suffix``: ``**A`` with nothing special
    in A, else ``regexp``) and, for a regexp, the regexp, made character by
    character: ``[``, ``]`` and the characters moby does not escape go through as
    they are, so a class is the regexp's class."""
    out = ""
    kind = "exact"
    i, n = 0, len(text)
    while i < n:
        first = i == 0
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out += ".*"
                        kind = "regexp"
                else:
                    out += "(.*/)?"
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                out += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            out += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPE:
            out += "\\" + ch
        elif ch == "\\":
            if i < n:
                out += "\\" + text[i]
                i += 1
                kind = "regexp"
            else:
                out += "\\"
        elif ch in "[]":
            out += ch
            kind = "regexp"
        else:
            out += ch
    if kind != "regexp":
        return kind, None
    try:
        return kind, re.compile(out)
    except re.error as error:
        raise PatternError(f"{text!r} is not a valid pattern: {error}") from None


class Matcher:
    """The patterns of one ``.dockerignore``, in order."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = _clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise PatternError('illegal exclusion pattern: "!"')
                text = text[1:]
            self.patterns.append(Pattern.of(text, exclusion))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str, parents: list[bool] | None = None) -> tuple[bool, list[bool]]:
        """Whether ``path`` (relative, ``/``-separated) is excluded, and each pattern's
        match of it, for its children (``MatchesUsingParentResults``: ``parents``
        are the parent directory's; None checks every ancestor)."""
        matched = False
        found = [False] * len(self.patterns)
        for i, pattern in enumerate(self.patterns):
            match = parents[i] if parents is not None else False
            if not match:
                if pattern.exclusion != matched:
                    continue
                match = pattern.matches(path)
                if not match and parents is None:
                    parts = path.split("/")[:-1]
                    match = any(
                        pattern.matches("/".join(parts[: k + 1])) for k in range(len(parts))
                    )
            found[i] = match
            if match:
                matched = not pattern.exclusion
        return matched, found

    def may_hold_exceptions(self, directory: str) -> bool:
        """Whether an exception pattern lies under ``directory`` (so an excluded
        directory must still be walked)."""
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def context_files(context: str, dockerfile: str = "Dockerfile") -> list[str]:
    """The paths (relative, ``/``-separated, in the walk's order: lexical, a
    directory before its contents) a build of ``context`` sends; the Dockerfile
    and ``.dockerignore`` always among them. ``PatternError`` for a bad pattern,
    ``OSError`` for an unreadable ``.dockerignore``."""
    try:
        with open(os.path.join(context, FILE_NAME), encoding="utf-8", errors="replace") as fh:
            patterns = read_patterns(fh.read())
    except FileNotFoundError:
        patterns = []
    if patterns:
        keep = Matcher(patterns)
        if keep.excluded(FILE_NAME)[0]:
            patterns.append("!" + FILE_NAME)
        if keep.excluded(_clean(dockerfile))[0]:
            patterns.append("!" + _clean(dockerfile))
    return list(_walk(context, Matcher(patterns)))


def _walk(context: str, matcher: Matcher) -> Iterator[str]:
    def visit(directory: str, relative: str, parents: list[bool]) -> Iterator[str]:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            path = f"{relative}/{name}" if relative else name
            full = os.path.join(directory, name)
            excluded, found = matcher.excluded(path, parents)
            is_dir = os.path.isdir(full) and not os.path.islink(full)
            if (
                excluded
                and is_dir
                and not (matcher.exclusions and matcher.may_hold_exceptions(path))
            ):
                continue
            if not excluded:
                yield path
            if is_dir:
                yield from visit(full, path, found)

    yield from visit(context, "", [False] * len(matcher.patterns))
