"""A compose project as the Compose Specification reads it, every value located.

The files are read in order, each interpolated on its own (``.env`` of the
project directory, or the ``--env-file`` files, under the process environment,
which wins), their services' ``extends`` resolved, then merged into the first:
mappings key by key, sequences appended — except ``command``, ``entrypoint``
and ``healthcheck.test``, which the later file replaces, and ``ports``,
``volumes``, ``secrets`` and ``configs``, whose members are unique by target.
The mapping-or-list keys (``environment``, ``labels``, ``sysctls``,
``depends_on``, ``networks``…) are merged as mappings. Services whose
``profiles`` name no active profile are left out.

Every problem is located: ``compose.yaml:14: services.web.ports[0]: …``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.config._fields import show as _shown
from corral.config.compose.interpolate import InterpolationError, interpolate
from corral.config.compose.yamlfile import Lines, read_yaml
from corral.config.envfile import EnvFileError, read_env_file
from corral.errors import ConfigError, Path, Problem

TOP_LEVEL = frozenset(
    {
        "version",
        "name",
        "services",
        "networks",
        "volumes",
        "secrets",
        "configs",
        "include",
        "models",
    }
)
#: Keys whose value may be a list of ``K=V`` strings or a mapping; merged as mappings.
MAPPING_LISTS = frozenset({"environment", "labels", "sysctls", "annotations", "extra_hosts"})
#: Keys a later file replaces rather than appends to.
REPLACED = frozenset({"command", "entrypoint"})
#: Sequences whose members are unique by a key (the later member wins).
UNIQUE_BY = {"ports": "port", "volumes": "target", "secrets": "target", "configs": "target"}


@dataclass
class ComposeProject:
    """The merged model, where each path came from, and what it was read with."""

    model: dict[str, Any]
    lines: Lines
    directory: str
    env: dict[str, str]
    files: tuple[str, ...]
    #: problems found while reading (interpolation, keys, extends): reported with
    #: those of the conversion, all at once
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path) -> tuple[str | None, int | None]:
        """The file and line of the longest located prefix of ``path``."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return (self.files[0] if self.files else None), None

    def problem(self, path: Path, message: str) -> Problem:
        file, line = self.where(path)
        return Problem(message, path, file, line)


def project_env(
    directory: str, env_files: Sequence[str], environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables interpolation sees: the env files (``.env`` by default), then
    the process environment over them."""
    files = list(env_files) or (
        [os.path.join(directory, ".env")] if os.path.exists(os.path.join(directory, ".env")) else []
    )
    env: dict[str, str] = {}
    for path in files:
        try:
            parsed = read_env_file(path)
        except OSError as error:
            raise ConfigError(
                [Problem(f"cannot read the env file: {error.strerror}", (), path)]
            ) from None
        except EnvFileError as error:
            raise ConfigError(
                [Problem(f"invalid env file: {error}", (), path, error.line)]
            ) from None
        for key, value in parsed.pairs:
            env[key] = interpolate_quiet(value, env)
    env.update(environ)
    return env


def interpolate_quiet(value: str, env: Mapping[str, str]) -> str:
    try:
        return interpolate(value, env)
    except InterpolationError:
        return value


def read_project(
    files: Sequence[str],
    *,
    env_files: Sequence[str] = (),
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> ComposeProject:
    """Read, interpolate, extend and merge ``files``; raise ``ConfigError`` with
    every located problem."""
    environ = dict(os.environ if environ is None else environ)
    directory = os.path.dirname(os.path.abspath(files[0]))
    env = project_env(directory, env_files, environ)
    reader = _Reader(env)
    model: dict[str, Any] = {}
    lines: Lines = {}
    for file in files:
        value, located = reader.read(file)
        _merge_into(model, copy.deepcopy(value), (), lines, located)
    active = set(profiles) or {p for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    project = ComposeProject(model, lines, directory, env, tuple(files), reader.problems)
    _apply_profiles(project, active)
    return project


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Problem] = []
        self._cache: dict[str, tuple[dict[str, Any], Lines]] = {}

    def read(self, file: str) -> tuple[dict[str, Any], Lines]:
        key = os.path.abspath(file)
        if key in self._cache:
            return self._cache[key]
        try:
            with open(file, encoding="utf-8") as stream:
                text = stream.read()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "the file is not UTF-8"
            raise ConfigError(
                [Problem(f"cannot read the compose file: {reason}", (), file)]
            ) from None
        value, lines = read_yaml(text, file)
        if not isinstance(value, dict):
            raise ConfigError(
                [Problem("a compose file must be a mapping (services:, networks:…)", (), file, 1)]
            )
        value = self._interpolated(value, (), lines)
        for key_name in value:
            if key_name not in TOP_LEVEL and not key_name.startswith("x-"):
                line = lines.get((key_name,), (file, 1))[1]
                self.problems.append(
                    Problem(f"unknown top-level key {_shown(key_name)}", (key_name,), file, line)
                )
        services = value.get("services")
        if services is not None and not isinstance(services, dict):
            self.problems.append(_at(lines, ("services",), "services must be a mapping"))
        elif services:
            for name, service in services.items():
                if not isinstance(service, dict):
                    self.problems.append(
                        _at(lines, ("services", name), "a service must be a mapping")
                    )
                    continue
                _normalise(service, ("services", name), lines)
            for name in list(services):
                if isinstance(services[name], dict):
                    self._extend(file, value, lines, name, ())
        self._cache[key] = (value, lines)
        return value, lines

    def _interpolated(self, value: Any, path: Path, lines: Lines) -> Any:
        if isinstance(value, dict):
            return {
                k: v
                if k.startswith("x-") and not path
                else self._interpolated(v, (*path, k), lines)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._interpolated(v, (*path, i), lines) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            try:
                return interpolate(value, self.env)
            except InterpolationError as error:
                self.problems.append(_at(lines, path, str(error)))
        return value

    def _extend(
        self, file: str, model: dict[str, Any], lines: Lines, name: str, seen: tuple[str, ...]
    ) -> None:
        """Resolve ``services.NAME.extends`` in place (the base under the service)."""
        service = model["services"][name]
        extends = service.get("extends")
        if extends is None:
            return
        path: Path = ("services", name, "extends")
        if isinstance(extends, str):
            extends = {"service": extends}
        if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
            self.problems.append(
                _at(lines, path, "extends must be a service name or {service, file}")
            )
            return
        unknown = set(extends) - {"service", "file"}
        if unknown:
            self.problems.append(_at(lines, path, f"unknown key {sorted(unknown)[0]!r} in extends"))
        base_name = extends["service"]
        marker = f"{os.path.abspath(file)}:{name}"
        if marker in seen:
            self.problems.append(_at(lines, path, f"extends makes a cycle through {_shown(name)}"))
            return
        if "file" in extends:
            other = os.path.join(os.path.dirname(file), str(extends["file"]))
            if not os.path.exists(other):
                self.problems.append(
                    _at(
                        lines, (*path, "file"), f"the file {_shown(extends['file'])} does not exist"
                    )
                )
                return
            base_model, base_lines = self.read(other)
        else:
            base_model, base_lines = model, lines
        base_services = base_model.get("services") or {}
        if base_name not in base_services:
            self.problems.append(
                _at(lines, (*path, "service"), f"extends names no service {_shown(base_name)}")
            )
            return
        if base_model is model:
            self._extend(file, model, lines, base_name, (*seen, marker))
        else:
            self._extend(other, base_model, base_lines, base_name, (*seen, marker))
        service.pop("extends")
        base = copy.deepcopy(base_services[base_name])
        base.pop("extends", None)  # a cycle, already reported
        for ignored in ("depends_on",) if base_model is not model else ():
            base.pop(ignored, None)
        merged: dict[str, Any] = {}
        new_lines: Lines = {}
        _merge_into(
            merged, base, (), new_lines, _relocated(base_lines, ("services", base_name), ())
        )
        own_lines = _relocated(lines, ("services", name), ())
        _merge_into(merged, service, (), new_lines, own_lines)
        model["services"][name] = merged
        for key, where in new_lines.items():
            lines[("services", name, *key)] = where


def _at(lines: Lines, path: Path, message: str) -> Problem:
    for end in range(len(path), -1, -1):
        found = lines.get(path[:end])
        if found is not None:
            return Problem(message, path, found[0], found[1])
    return Problem(message, path)


def _relocated(lines: Lines, old: Path, new: Path) -> Lines:
    n = len(old)
    return {(*new, *k[n:]): v for k, v in lines.items() if k[:n] == old}


def _normalise(service: dict[str, Any], path: Path, lines: Lines) -> None:
    """The list forms of mapping-like keys as mappings (their lines moved too), so
    that files merge key by key."""
    for key in MAPPING_LISTS:
        value = service.get(key)
        if isinstance(value, list) and all(isinstance(m, str) for m in value):
            as_map: dict[str, Any] = {}
            for i, member in enumerate(value):
                sep = "=" if key != "extra_hosts" or "=" in member else ":"
                name, eq, rest = member.partition(sep)
                if key == "extra_hosts" and not eq:
                    continue
                as_map[name.strip()] = rest if eq else None
                where = lines.get((*path, key, i))
                if where is not None:
                    lines[(*path, key, name.strip())] = where
            service[key] = as_map
    for key in ("depends_on", "networks"):
        value = service.get(key)
        if isinstance(value, list) and all(isinstance(m, str) for m in value):
            service[key] = {
                m: ({"condition": "service_started"} if key == "depends_on" else None)
                for m in value
            }
            for i, member in enumerate(value):
                where = lines.get((*path, key, i))
                if where is not None:
                    lines[(*path, key, member)] = where


def _merge_into(
    target: dict[str, Any], over: Mapping[str, Any], path: Path, lines: Lines, over_lines: Lines
) -> None:
    """Merge ``over`` (its paths located by ``over_lines``, relative to ``path``'s
    root) into ``target`` at ``path``, recording where each merged value came from."""

    def take(new_path: Path, old_path: Path) -> None:
        n = len(old_path)
        for key, where in over_lines.items():
            if key[:n] == old_path:
                lines[(*new_path, *key[n:])] = where

    for key, value in over.items():
        here = (*path, key)
        current = target.get(key)
        replace = (key in REPLACED and len(path) == 2 and path[0] == "services") or (
            key == "test" and path[-1:] == ("healthcheck",)
        )
        if isinstance(value, dict) and isinstance(current, dict) and not replace:
            _merge_into(current, value, here, lines, over_lines)
        elif isinstance(value, list) and isinstance(current, list) and not replace:
            unique = UNIQUE_BY.get(key) if len(path) == 2 and path[0] == "services" else None
            for i, member in enumerate(value):
                index = _matching(current, member, unique) if unique else None
                if index is None:
                    current.append(member)
                    index = len(current) - 1
                else:
                    current[index] = member
                take((*here, index), (*here, i))
        else:
            target[key] = value
            take(here, here)


def _matching(members: list[Any], member: Any, unique: str) -> int | None:
    key = _unique_key(member, unique)
    if key is None:
        return None
    for i, existing in enumerate(members):
        if _unique_key(existing, unique) == key:
            return i
    return None


def _unique_key(member: Any, unique: str) -> Any:
    if unique == "port":
        if isinstance(member, dict):
            return tuple(sorted((k, str(v)) for k, v in member.items()))
        return member if isinstance(member, str | int) else None
    if isinstance(member, dict):
        return member.get(unique) or member.get("source")
    if isinstance(member, str):
        if unique == "target":
            parts = member.split(":")
            return parts[1] if len(parts) > 1 else parts[0]
        return member
    return None


def _apply_profiles(project: ComposeProject, active: set[str]) -> None:
    services = project.model.get("services")
    if not isinstance(services, dict):
        return
    for name in list(services):
        service = services[name]
        wanted = service.get("profiles") if isinstance(service, dict) else None
        if wanted is None:
            continue
        if not isinstance(wanted, list):
            raise ConfigError(
                [project.problem(("services", name, "profiles"), "profiles must be a list")]
            )
        if "*" not in active and not active.intersection(str(p) for p in wanted):
            del services[name]
