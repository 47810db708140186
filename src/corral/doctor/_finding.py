"""One finding of ``corral doctor``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """What is wrong, where (a file or setting), and the command that fixes it."""

    level: Level
    #: a short, stable name of the check (``subuid``, ``port``, ``cgroup``…), for scripts
    check: str
    #: the file or setting concerned (``/etc/subuid``, ``XDG_RUNTIME_DIR``…)
    subject: str
    message: str
    #: the command (or change) that fixes it
    fix: str
    #: ``FILE:LINE: container[0].ports[0]`` when a declaration is the cause
    where: str | None = None

    def __str__(self) -> str:
        at = f"{self.where}: " if self.where else ""
        return f"{self.level}: {at}{self.subject}: {self.message}\n  fix: {self.fix}"

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "check": self.check,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
            "where": self.where,
        }


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]
