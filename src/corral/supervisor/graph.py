"""The dependency graph of declared services: requirements, dependents, order."""

from __future__ import annotations

from collections.abc import Sequence

from corral.config import Declared, dependency_order


def dependents(services: Sequence[Declared]) -> dict[str, list[str]]:
    """For each service, the services that require it."""
    out: dict[str, list[str]] = {s.name: [] for s in services}
    for service in services:
        for requirement in service.requirement:
            out.setdefault(requirement, []).append(service.name)
    return out


def start_order(services: Sequence[Declared]) -> list[str]:
    return [s.name for s in dependency_order(list(services))]


def as_text(services: Sequence[Declared]) -> str:
    lines = []
    for service in dependency_order(list(services)):
        needs = ", ".join(service.requirement)
        lines.append(f"{service.name} ({service.kind})" + (f" <- {needs}" if needs else ""))
    return "\n".join(lines)


def as_dot(services: Sequence[Declared]) -> str:
    lines = ["digraph corral {"]
    for service in dependency_order(list(services)):
        lines.append(f'  "{service.name}" [label="{service.name}\\n{service.kind}"];')
        for requirement in service.requirement:
            lines.append(f'  "{service.name}" -> "{requirement}";')
    lines.append("}")
    return "\n".join(lines)
