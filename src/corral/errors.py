"""corral's exceptions, drawn once.

::

    CorralError                  anything corral reports to a person (exit 1)
    ├── ConfigError              the configuration is invalid (exit 2); holds Problems
    ├── CommandError             an external command failed; keeps argv, code, stderr
    ├── ImageError               an image could not be built, read or loaded
    └── DeadlineError            a deadline passed before the answer came (exit 3)

Every message is written for the person at the terminal: it names the file,
field and value involved, and never carries a secret (host_environment values
and secret files are redacted before a message is built).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """Render a field path the way a person writes it: ``container[1].ports[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration, located as precisely as known."""

    message: str
    path: Path = ()
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        field = f"{format_path(self.path)}: " if self.path else ""
        return f"{where}{field}{self.message}"


class CorralError(Exception):
    """Base of every error corral reports to a person."""


class ConfigError(CorralError):
    """The configuration is invalid; ``problems`` lists everything found at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CommandError(CorralError):
    """An external command exited non-zero (or could not be run)."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str = "", stderr: str = ""):
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
        super().__init__(f"{shlex.join(self.argv)}: {detail}")


class ImageError(CorralError):
    """An image could not be built, read or loaded."""


class DeadlineError(CorralError):
    """A command's deadline (``--timeout``) passed; the message says what it waited for."""
