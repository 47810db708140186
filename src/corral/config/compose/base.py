"""The converter's state and the names it gives: containers, networks, volumes,
host paths (Compose's rules, with or without a project)."""

from __future__ import annotations

import os
from typing import Any

from corral.config.compose.keys import DEFAULT_NETWORK
from corral.config.compose.model import Output
from corral.config.compose.project import ComposeProject
from corral.config.compose.values import shown, string_map
from corral.errors import Path, Problem


class ConverterBase:
    """A project being converted: its services, networks, volumes and secrets, the
    records made so far, the problems found, where each corral path came from."""

    def __init__(self, project: ComposeProject, name: str | None, base: str) -> None:
        self.project = project
        self.name = name
        self.base = base
        self.problems: list[Problem] = list(project.problems)
        self.origins: dict[Path, Path] = {}
        self.records: list[Output] = []
        model = project.model
        self.services: dict[str, Any] = self._mapping(model, ("services",))
        self.networks: dict[str, Any] = self._mapping(model, ("networks",))
        self.volumes: dict[str, Any] = self._mapping(model, ("volumes",))
        self.secrets: dict[str, Any] = self._mapping(model, ("secrets",))
        self.one_shot: set[str] = set()
        self.uses_default = False

    # -- helpers ---------------------------------------------------------

    def _mapping(self, model: dict[str, Any], path: tuple[str]) -> dict[str, Any]:
        value = model.get(path[0])
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, but {shown(value)} was found")
            return {}
        return {k: (v if v is not None else {}) for k, v in value.items()}

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.project.problem(path, message))

    def container_name(self, service: str) -> str:
        body = self.services.get(service)
        explicit = body.get("container_name") if isinstance(body, dict) else None
        if isinstance(explicit, str) and explicit:
            return explicit
        return f"{self.name}-{service}-1" if self.name else service

    def network_name(self, key: str) -> str:
        body = self.networks.get(key)
        if isinstance(body, dict) and isinstance(body.get("name"), str):
            return str(body["name"])
        if key == DEFAULT_NETWORK:
            return f"{self.name}_default" if self.name else "compose_default"
        return f"{self.name}_{key}" if self.name else key

    def volume_name(self, key: str) -> str:
        body = self.volumes.get(key)
        if isinstance(body, dict) and isinstance(body.get("name"), str):
            return str(body["name"])
        return f"{self.name}_{key}" if self.name else key

    def host_path(self, text: str) -> str:
        """A host path of the compose file as corral's file spells it."""
        if text.startswith("~") or os.path.isabs(text):
            return text
        absolute = os.path.normpath(os.path.join(self.project.directory, text))
        relative = os.path.relpath(absolute, self.base)
        if relative.startswith(".."):
            return absolute  # outside the corral file's directory: say it in full
        return "." if relative == "." else f"./{relative}"

    def attachment(self, service: str, key: str, spec: Any) -> dict[str, Any] | str:
        aliases: list[str] = []
        own = self.container_name(service)
        if own != service:
            aliases.append(service)
        out: dict[str, Any] = {"name": self.network_name(key)}
        if isinstance(spec, dict):
            for alias in spec.get("aliases") or []:
                if str(alias) not in aliases:
                    aliases.append(str(alias))
            for k in ("ipv4_address", "ipv6_address"):
                if spec.get(k):
                    out[k] = str(spec[k])
        if aliases:
            out["aliases"] = aliases
        return out if len(out) > 1 else out["name"]

    def labels(self, value: Any, path: Path) -> dict[str, str]:
        if isinstance(value, list):
            pairs = [str(m).partition("=") for m in value]
            return {k: v for k, _, v in pairs}
        return string_map(value, "labels")
