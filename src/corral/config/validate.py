"""Whole-configuration checks, after each record is valid on its own.

Every problem is collected and reported at once: two services with one name,
a requirement that names no service, a dependency cycle, two containers
publishing the same host port and address, a malformed port mapping, two
actions of one service with one name, limits that do not hold together, and
run options the configured runtime cannot honour.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from corral.config._fields import show
from corral.config.container import OciContainer
from corral.config.http import http_problems
from corral.config.mounts import parse_mount
from corral.config.ports import PortSpecError, parse_port
from corral.config.process import Process
from corral.config.run_options import HOST_GATEWAY
from corral.config.services import Declared, declared_services
from corral.config.top import Config
from corral.errors import Path, Problem, format_path
from corral.runtimes import Runtime

Spelling = Callable[[Path], Path]


def python_spelling(path: Path) -> Path:
    return path


def toml_spelling(path: Path) -> Path:
    """``containers[1]`` as TOML spells it: ``container[1]``."""
    if path and isinstance(path[0], str) and path[0] in _TOML_NAMES:
        return (_TOML_NAMES[path[0]], *path[1:])
    return path


_TOML_NAMES = {
    "containers": "container",
    "processes": "process",
    "networks": "network",
    "volumes": "volume",
    "registries": "registry",
}


def validate(
    config: Config, spell: Spelling = python_spelling, *, names: bool = True, runtime: bool = True
) -> list[Problem]:
    """Every cross-record problem of ``config``, paths spelt by ``spell``; without
    ``names``, not those about service names and requirements, without
    ``runtime`` not those about what the runtime honours (``hidden``: when
    what they hang on was left out)."""
    services = declared_services(config)
    problems: list[Problem] = []
    if names:
        problems += _duplicate_names(services, spell)
        problems += _unknown_requirements(services)
        if not problems:
            problems += _cycles(services)
    problems += _ports(config, spell)
    problems += _actions(config)
    problems += _limits(config)
    if runtime:
        problems += _runtime_support(config)
        problems += _health_forms(config)
    problems += _http(config)
    return [Problem(p.message, spell(p.path), p.file, p.line) for p in problems]


def _duplicate_names(services: list[Declared], spell: Spelling) -> Iterator[Problem]:
    first: dict[str, Declared] = {}
    for service in services:
        if service.name in first:
            other = first[service.name]
            yield Problem(
                f"service name {show(service.name)} is already used by "
                f"{format_path(spell(other.path))}; set a distinct provision",
                (*service.path, "provision") if service.kind == "container" else service.path,
            )
        else:
            first[service.name] = service


def _unknown_requirements(services: list[Declared]) -> Iterator[Problem]:
    names = [s.name for s in services]
    for service in services:
        for i, name in enumerate(service.declared_requirement):
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
                hint = f" (did you mean {show(close[0])}?)" if close else ""
                yield Problem(
                    f"requirement {show(name)} names no service{hint}",
                    (*service.path, "requirement", i),
                )
            elif name == service.name:
                yield Problem(
                    f"a service cannot require itself, but {show(name)} was found",
                    (*service.path, "requirement", i),
                )


def _cycles(services: list[Declared]) -> Iterator[Problem]:
    by_name = {s.name: s for s in services}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for required in by_name[name].requirement:
            if required not in by_name or required == name:
                continue
            if state.get(required) == 1:
                found.append([*stack[stack.index(required) :], required])
            elif required not in state:
                visit(required)
        stack.pop()
        state[name] = 2

    for service in services:
        if service.name not in state:
            visit(service.name)
    for cycle in found:
        yield Problem(
            "dependency cycle: " + " -> ".join(cycle),
            (*by_name[cycle[0]].path, "requirement"),
        )


def _http(config: Config) -> Iterator[Problem]:
    """The status page's safety rules (``config.http.http_problems``)."""
    if config.http is not None:
        for name, message in http_problems(config.http):
            yield Problem(message, ("http", name))


@dataclass(frozen=True)
class Published:
    """A host port a container publishes."""

    address: str  # "" means every address
    port: int
    protocol: str


def published_ports(spec: str) -> list[Published]:
    """The host ports a ``-p`` spec binds (none for ``80`` or ``127.0.0.1::80``)."""
    mapping = parse_port(spec)
    return [Published(mapping.address, port, mapping.protocol) for port in mapping.host_ports()]


def _ports(config: Config, spell: Spelling) -> Iterator[Problem]:
    taken: dict[tuple[str, int, str], tuple[int, int]] = {}
    for i, container in enumerate(config.containers):
        for j, spec in enumerate(container.ports):
            try:
                published = published_ports(spec)
            except PortSpecError as error:
                yield Problem(
                    f"{show(spec)} is not a port mapping like 8080:80: {error}",
                    ("containers", i, "ports", j),
                )
                continue
            for port in published:
                clash = _clash(taken, port)
                if clash is not None and clash[0] != i:
                    where = format_path(spell(("containers", clash[0], "ports", clash[1])))
                    yield Problem(
                        f"host port {port.port}/{port.protocol} on "
                        f"{port.address or 'every address'} is already published by {where}",
                        ("containers", i, "ports", j),
                    )
                    break
                taken[(port.address, port.port, port.protocol)] = (i, j)


def _clash(
    taken: dict[tuple[str, int, str], tuple[int, int]], port: Published
) -> tuple[int, int] | None:
    if port.address:
        for key in ((port.address, port.port, port.protocol), ("", port.port, port.protocol)):
            if key in taken:
                return taken[key]
        return None
    for (_address, number, protocol), owner in taken.items():
        if number == port.port and protocol == port.protocol:
            return owner
    return None


def _actions(config: Config) -> Iterator[Problem]:
    groups: list[tuple[str, int, OciContainer | Process]] = [
        ("containers", i, c) for i, c in enumerate(config.containers)
    ] + [("processes", i, p) for i, p in enumerate(config.processes)]
    for field, i, record in groups:
        seen: set[str] = set()
        for j, action in enumerate(record.actions):
            if action.name in seen:
                yield Problem(
                    f"action {show(action.name)} is declared twice",
                    (field, i, "actions", j, "name"),
                )
            seen.add(action.name)


def _limits(config: Config) -> Iterator[Problem]:
    """Limits that only hold together: swap and reservation against memory, one
    tmpfs per path (the engines refuse the others at create time)."""
    for i, c in enumerate(config.containers):
        here: Path = ("containers", i)
        if c.memory_swap is not None and c.memory is None:
            yield Problem(
                "memory_swap needs memory: the engines refuse a swap limit without one",
                (*here, "memory_swap"),
            )
        if c.memory is not None:
            if c.memory_swap is not None and c.memory_swap != -1 and c.memory_swap < c.memory:
                yield Problem(
                    f"memory_swap ({c.memory_swap} bytes) must be at least memory "
                    f"({c.memory} bytes): it counts memory plus swap",
                    (*here, "memory_swap"),
                )
            if c.memory_reservation is not None and c.memory_reservation > c.memory:
                yield Problem(
                    f"memory_reservation ({c.memory_reservation} bytes) must be at most "
                    f"memory ({c.memory} bytes)",
                    (*here, "memory_reservation"),
                )
        seen: set[str] = set()
        for j, entry in enumerate(c.tmpfs):
            path = entry.partition(":")[0]
            if path in seen:
                yield Problem(f"tmpfs mounts {show(path)} twice", (*here, "tmpfs", j))
            seen.add(path)


#: The user namespace modes each engine takes (podman's take an argument after ``:``).
USERNS_MODES: dict[Runtime, tuple[str, ...]] = {
    "docker": ("host",),
    "podman": ("host", "private", "nomap", "keep-id", "auto", "ns"),
}


def _health_forms(config: Config) -> Iterator[Problem]:
    """docker's CLI (20.10) runs every --health-cmd through a shell: an exec-form
    check cannot go the CLI's way (extra_arguments, a valueless environment entry)."""
    if config.runtime != "docker":
        return
    for i, c in enumerate(config.containers):
        by_cli = c.extra_arguments or any("=" not in entry for entry in c.environment)
        if isinstance(c.health_cmd, tuple) and by_cli:
            yield Problem(
                'runtime "docker" cannot honour health_cmd as a list (exec form) for a '
                "container its CLI creates (extra_arguments, or an environment entry without "
                "a value): docker's --health-cmd is shell form only; write it as a string",
                ("containers", i, "health_cmd"),
            )


def _runtime_support(config: Config) -> Iterator[Problem]:
    """What the configured engine cannot honour, found at check time (issue 15, item 8)."""
    runtime = config.runtime
    for i, c in enumerate(config.containers):
        here: Path = ("containers", i)
        if c.userns is not None:
            mode = c.userns.split(":", 1)[0]
            if mode not in USERNS_MODES[runtime]:
                others = [r for r, modes in USERNS_MODES.items() if mode in modes and r != runtime]
                hint = f" ({show(mode)} is {others[0]}'s)" if others else ""
                modes = ", ".join(show(m) for m in USERNS_MODES[runtime])
                yield Problem(
                    f"runtime {show(runtime)} cannot honour userns = {show(c.userns)}{hint}; "
                    f"it takes {modes}",
                    (*here, "userns"),
                )
        if runtime == "docker":
            for j, spec in enumerate(c.volumes):
                if "U" in parse_mount(spec).options.split(","):
                    yield Problem(
                        f'runtime "docker" cannot honour the volume option U in {show(spec)}: '
                        "only Podman chowns a bind source to the container user's mapped id; "
                        "chown the source yourself (or use podman)",
                        (*here, "volumes", j),
                    )
        if runtime == "podman" and c.domainname is not None:
            yield Problem(
                'runtime "podman" (4.3) cannot honour domainname: its CLI has no '
                "--domainname and its API ignores Domainname",
                (*here, "domainname"),
            )
        if runtime == "podman" and c.mac_address is not None and c.network is None:
            yield Problem(
                'runtime "podman" (4.3) cannot honour mac_address without a declared '
                "network: its API takes the address only on a network's endpoint; set network",
                (*here, "mac_address"),
            )
        if runtime == "podman":
            for j, entry in enumerate(c.extra_hosts):
                if entry.endswith(":" + HOST_GATEWAY):
                    yield Problem(
                        f'runtime "podman" (4.3) cannot honour {show(entry)}: it refuses '
                        f"{show(HOST_GATEWAY)} in --add-host; write the host's address",
                        (*here, "extra_hosts", j),
                    )
