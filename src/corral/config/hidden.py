"""Problems that a field error would hide, found in the same pass.

pydantic checks every field of every record at once, but a record's
whole-record checks (its ``model_validator``s) run only when all of its fields
are valid, and corral's cross-record checks (``validate``: names, ports,
requirements…) only when the whole file is. So ``respawn = "yes"`` would hide
a malformed ``ports`` entry of the same record. ``hidden_problems`` finds them
anyway: it leaves out each field that failed (of a copy of the data; a
record that fails as a whole is left out entirely) and validates again, a few
rounds at most. It keeps only new problems that cannot be an effect of what
it left out: none about a left-out field (a required one is then "missing"),
no whole-record complaint that names a left-out field, no name or
requirement check once a field a service's name or requirements hang on (or
a whole record) was left out, no runtime check once ``runtime`` was.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from corral.config.problems import problems_from
from corral.config.top import Config
from corral.config.validate import toml_spelling, validate
from corral.errors import Path, Problem

#: The keys of the record lists (TOML spelling) and of the single tables.
_LISTS = ("container", "process", "network", "volume")
_TABLES = ("docker", "containerd", "singularity")
#: Fields whose loss changes the services' names or requirements.
_IDENTITY = {"provision", "name", "image", "requirement", "network", "networks"}
ROUNDS = 4


class _Copy:
    """The data with fields and records left out; paths of problems found in it
    are translated back to the file's (records left out shift the indices)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = copy.deepcopy(data)
        self.origin = {
            key: list(range(len(value)))
            for key, value in self.data.items()
            if key in _LISTS and isinstance(value, list)
        }

    def original(self, path: Path) -> Path:
        if len(path) >= 2 and path[0] in self.origin and isinstance(path[1], int):
            positions = self.origin[str(path[0])]
            if path[1] < len(positions):
                return (path[0], positions[path[1]], *path[2:])
        return path

    def leave_out(self, targets: set[Path]) -> None:
        """Leave out each target (current paths), whole records last, from the end."""
        for target in sorted(targets, key=lambda t: (len(t) == 2, _order(t)), reverse=True):
            node: Any = self.data
            for part in target[:-1]:
                try:
                    node = node[part]
                except (KeyError, IndexError, TypeError):
                    node = None
                    break
            last = target[-1]
            if isinstance(node, dict):
                node.pop(last, None)
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                del node[last]
                del self.origin[str(target[0])][last]


def _order(target: Path) -> tuple[str, int]:
    return (str(target[0]), target[1] if len(target) > 1 and isinstance(target[1], int) else -1)


def hidden_problems(data: dict[str, Any], error: ValidationError) -> list[Problem]:
    """Problems of TOML ``data`` that ``error`` (its validation) did not report."""
    work = _Copy(data)
    reported: set[Path] = {p.path for p in problems_from(error, Config)}
    left_out: set[Path] = set()  # original paths
    found: list[Problem] = []
    for _ in range(ROUNDS):
        targets = {_field_of(p.path) for p in problems_from(error, Config)}
        # a field still failing once left out is required: leave out its record
        targets = {t[:2] if work.original(t) in left_out and len(t) == 3 else t for t in targets}
        fresh = {t for t in targets if work.original(t) not in left_out}
        if not fresh:
            break
        left_out |= {work.original(t) for t in fresh}
        work.leave_out(fresh)
        try:
            config = Config.model_validate(work.data)
        except ValidationError as again:
            error = again
            new = [
                problem
                for p in problems_from(again, Config)
                if _new(problem := _moved(p, work.original(p.path)), reported, left_out)
            ]
            found += new
            reported |= {p.path for p in new}
            continue
        names = not any(_identity(target) for target in left_out)
        runtime = ("runtime",) not in left_out
        found += [
            problem
            for p in validate(config, toml_spelling, names=names, runtime=runtime)
            if _new(problem := _moved(p, work.original(p.path)), reported, left_out)
        ]
        break
    return found


def _moved(problem: Problem, path: Path) -> Problem:
    return Problem(problem.message, path, problem.file, problem.line)


def _field_of(path: Path) -> Path:
    """The record field (or top-level key) ``path`` lies in: what gets left out."""
    if len(path) >= 2 and path[0] in _LISTS and isinstance(path[1], int):
        return path[:3]
    if path and path[0] in _TABLES:
        return path[:2]
    return path[:1]


def _identity(target: Path) -> bool:
    """Whether leaving out ``target`` changes names or requirements."""
    if len(target) <= 2:
        return target != ("runtime",)  # a whole record, a whole table or a top-level key
    return str(target[-1]) in _IDENTITY


def _new(problem: Problem, reported: set[Path], left_out: set[Path]) -> bool:
    path = problem.path
    if path in reported:
        return False
    if any(path[: len(d)] == d for d in left_out):
        return False
    # a whole-record check that names a field we left out is about its absence
    fields = {str(d[-1]) for d in left_out if d[:-1] == path}
    return not any(name in problem.message for name in fields)
