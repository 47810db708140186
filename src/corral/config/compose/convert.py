"""A compose project as the data of a corral configuration (what a corral TOML
file holds), with where each value came from and a note for each key left out.

Names follow Compose without a project: a service is its ``container_name``,
else its service name, and answers DNS under both on its networks (the service
name as an alias). With a project ``P`` (``--project``, or the file's ``name:``)
they are Compose v2's: containers ``P-SERVICE-1``, networks and volumes
``P_NAME``. The ``default`` network, which every service without ``networks``
or ``network_mode`` joins, is ``P_default``, or ``compose_default`` (docker
reserves the name ``default``).
"""

from __future__ import annotations

import difflib
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from corral.config.compose import values
from corral.config.compose.project import ComposeProject
from corral.errors import ConfigError, Path, Problem

#: Every service key of the Compose Specification.
SERVICE_KEYS = frozenset(
    {
        "annotations",
        "attach",
        "blkio_config",
        "build",
        "cap_add",
        "cap_drop",
        "cgroup",
        "cgroup_parent",
        "command",
        "configs",
        "container_name",
        "cpu_count",
        "cpu_percent",
        "cpu_period",
        "cpu_quota",
        "cpu_rt_period",
        "cpu_rt_runtime",
        "cpu_shares",
        "cpus",
        "cpuset",
        "credential_spec",
        "depends_on",
        "deploy",
        "develop",
        "device_cgroup_rules",
        "devices",
        "dns",
        "dns_opt",
        "dns_search",
        "domainname",
        "driver_opts",
        "entrypoint",
        "env_file",
        "environment",
        "expose",
        "extends",
        "external_links",
        "extra_hosts",
        "gpus",
        "group_add",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "ipc",
        "isolation",
        "label_file",
        "labels",
        "links",
        "logging",
        "mac_address",
        "mem_limit",
        "mem_reservation",
        "mem_swappiness",
        "memswap_limit",
        "models",
        "network_mode",
        "networks",
        "oom_kill_disable",
        "oom_score_adj",
        "pid",
        "pids_limit",
        "platform",
        "ports",
        "post_start",
        "pre_stop",
        "privileged",
        "profiles",
        "provider",
        "pull_policy",
        "read_only",
        "restart",
        "runtime",
        "scale",
        "secrets",
        "security_opt",
        "shm_size",
        "stdin_open",
        "stop_grace_period",
        "stop_signal",
        "storage_opt",
        "sysctls",
        "tmpfs",
        "tty",
        "ulimits",
        "use_api_socket",
        "user",
        "userns_mode",
        "uts",
        "volumes",
        "volumes_from",
        "working_dir",
    }
)

#: Keys corral has no field for, and why.
UNSUPPORTED = {
    "annotations": "corral sets no OCI annotations",
    "attach": "corral always keeps the container's output in its log",
    "blkio_config": "corral has no block-IO limits",
    "cgroup": "corral has no cgroup namespace option",
    "cgroup_parent": "corral has no cgroup parent option",
    "configs": "corral has no configs; use a secret file or a bind volume",
    "cpu_count": "Windows only",
    "cpu_percent": "Windows only",
    "cpu_period": "corral has cpus, not CFS periods",
    "cpu_quota": "corral has cpus, not CFS quotas",
    "cpu_rt_period": "corral has no realtime scheduling",
    "cpu_rt_runtime": "corral has no realtime scheduling",
    "credential_spec": "Windows only",
    "develop": "corral has no watch mode",
    "device_cgroup_rules": "corral has no device cgroup rules",
    "driver_opts": "corral passes no network driver options per service",
    "external_links": "links are legacy; use networks",
    "gpus": "corral has no GPU requests",
    "ipc": "corral has no IPC namespace option",
    "isolation": "Windows only",
    "label_file": "corral reads no label files",
    "links": "links are legacy; the service name already answers DNS on its networks",
    "logging": "corral keeps the container's log itself (log_file)",
    "mem_swappiness": "corral has no swappiness option",
    "models": "corral runs no models",
    "oom_kill_disable": "corral has no oom_kill_disable",
    "pid": "corral has no PID namespace option",
    "post_start": "corral has no lifecycle hooks; a declared action can run it",
    "pre_stop": "corral has no lifecycle hooks; a declared action can run it",
    "provider": "corral has no providers",
    "runtime": "corral has no OCI runtime option per container",
    "scale": "corral runs one container per declaration",
    "storage_opt": "corral has no storage options",
    "use_api_socket": "corral does not mount the engine socket itself",
    "uts": "corral has no UTS namespace option",
    "volumes_from": "corral has no volumes_from; name the volumes",
}

#: Compose keys corral stores under another name, taken as they are.
RENAMED = {
    "cap_add": "cap_add",
    "cap_drop": "cap_drop",
    "hostname": "hostname",
    "domainname": "domainname",
    "stop_signal": "stop_signal",
    "read_only": "read_only",
    "init": "init",
    "privileged": "privileged",
    "user": "container_user",
    "working_dir": "workdir",
    "mac_address": "mac_address",
    "platform": "platform",
    "stdin_open": "stdin_open",
    "tty": "tty",
    "userns_mode": "userns",
    "oom_score_adj": "oom_score_adj",
    "cpu_shares": "cpu_shares",
    "cpuset": "cpuset",
    "pids_limit": "pids_limit",
    "group_add": "group_add",
    "dns_search": "dns_search",
    "dns_opt": "dns_options",
    "dns": "dns",
    "security_opt": "security_opt",
    "devices": "devices",
    "expose": "expose",
    "tmpfs": "tmpfs",
    "cpus": "cpus",
}
_BOOLEAN = {"read_only", "init", "privileged", "stdin_open", "tty"}
_INTEGER = {"oom_score_adj", "cpu_shares", "pids_limit"}
_LISTS = {
    "cap_add",
    "cap_drop",
    "group_add",
    "dns_search",
    "dns_opt",
    "dns",
    "security_opt",
    "devices",
    "expose",
    "tmpfs",
}
_SIZES = {
    "shm_size": "shm_size",
    "mem_limit": "memory",
    "mem_reservation": "memory_reservation",
    "memswap_limit": "memory_swap",
}
_PULL = {
    "always": "always",
    "never": "never",
    "missing": "missing",
    "if_not_present": "missing",
    "daily": None,
    "weekly": None,
    "build": None,
}
DEFAULT_NETWORK = "default"
#: The top-level extension that holds corral's own top-level keys (``runtime``,
#: ``state_dir``, ``pull``…): Compose ignores it, so the file stays Compose's.
EXTENSION = "x-corral"


@dataclass(frozen=True)
class Skipped:
    """A compose key corral did not convert, and why."""

    owner: str  # "services.web", "networks.front", "top level"
    key: str
    path: Path
    value: Any
    reason: str


@dataclass
class Entry:
    """What one compose key became: corral keys and values, or a Skipped."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    skipped: Skipped | None = None


@dataclass
class Output:
    """One corral record: ``container``, ``network``, ``volume`` or ``top``."""

    kind: str
    name: str
    entries: list[Entry] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in self.entries:
            out.update(entry.values)
        return out


@dataclass
class Conversion:
    """A converted project: the records, where each corral path came from, what was left out."""

    project: ComposeProject
    records: list[Output]
    origins: dict[Path, Path]
    project_name: str | None

    @property
    def skipped(self) -> list[Skipped]:
        return [e.skipped for r in self.records for e in r.entries if e.skipped is not None]

    def data(self) -> dict[str, Any]:
        """The records as TOML data (``container``, ``network``, ``volume`` arrays)."""
        out: dict[str, Any] = {}
        for record in self.records:
            if record.kind == "top":
                out.update(record.data())
            else:
                out.setdefault(record.kind, []).append(record.data())
        return out

    def origin(self, path: Path) -> Path:
        """The compose path that produced corral's ``path`` (its longest mapped prefix)."""
        for end in range(len(path), -1, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return ()

    def count(self, kind: str) -> int:
        return sum(1 for r in self.records if r.kind == kind)


class _Problems(Exception):
    pass


def convert(
    project: ComposeProject, *, project_name: str | None = None, base: str | None = None
) -> Conversion:
    """Convert ``project``; relative host paths become relative to ``base`` (the
    corral file's directory; default the project directory). ``project_name``
    (else the file's ``name:``) prefixes names as Compose does."""
    name = project_name or _text(project.model.get("name"))
    return _Converter(project, name, base or project.directory).run()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class _Converter:
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
            self.fail(path, f"must be a mapping, but {_shown(value)} was found")
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

    # -- the run ---------------------------------------------------------

    def run(self) -> Conversion:
        for body in self.services.values():
            if not isinstance(body, dict):
                continue
            deps = body.get("depends_on")
            if isinstance(deps, dict):
                for dep, spec in deps.items():
                    if isinstance(spec, dict) and spec.get("condition") == (
                        "service_completed_successfully"
                    ):
                        self.one_shot.add(str(dep))
        containers = [
            self.service(name, body)
            for name, body in self.services.items()
            if isinstance(body, dict)
        ]
        self.top_networks()
        self.top_volumes()
        self.top_secrets()
        self.top_level()
        self.records.extend(containers)
        if self.problems:
            raise ConfigError(sorted(self.problems, key=lambda p: (p.file or "", p.line or 0)))
        index = {"container": 0, "network": 0, "volume": 0}
        ordered: list[Output] = []
        for record in (
            [r for r in self.records if r.kind == "top"]
            + [r for r in self.records if r.kind == "network"]
            + [r for r in self.records if r.kind == "volume"]
            + containers
        ):
            ordered.append(record)
            if record.kind == "top":
                continue
            i = index[record.kind]
            index[record.kind] += 1
            self._register(record, i)
        return Conversion(self.project, ordered, self.origins, self.name)

    def _register(self, record: Output, i: int) -> None:
        section = {"container": "services", "network": "networks", "volume": "volumes"}[record.kind]
        root: Path = (record.kind, i)
        self.origins[root] = (section, record.name)
        for entry in record.entries:
            source: Path = (section, record.name, *entry.key.split("."))
            compose_value = _dig(self.project.model, source)
            for key, value in entry.values.items():
                self.origins.setdefault((*root, key), source)
                if (
                    isinstance(value, list)
                    and isinstance(compose_value, list)
                    and len(value) == len(compose_value)
                ):
                    for j in range(len(value)):
                        self.origins.setdefault((*root, key, j), (*source, j))

    # -- top level -------------------------------------------------------

    def top_level(self) -> None:
        top = Output("top", "top level")
        for key, value in self.project.model.items():
            if key in ("services", "networks", "volumes", "secrets", "name"):
                continue
            path: Path = (key,)
            if key == EXTENSION:
                if not isinstance(value, dict):
                    self.fail(path, f"must be a mapping, but {_shown(value)} was found")
                    continue
                top.entries.append(Entry(key, dict(value)))
                for name in value:
                    self.origins[(name,)] = (key, name)
                continue
            if key == "version":
                reason = "obsolete: Compose ignores it"
            elif key.startswith("x-"):
                reason = "an extension field: its anchors are already applied"
            else:
                reason = f"corral has no {key}"
            top.entries.append(Entry(key, skipped=Skipped("top level", key, path, value, reason)))
        if top.entries:
            self.records.append(top)

    def top_networks(self) -> None:
        used = self.uses_default
        for key, body in self.networks.items():
            path: Path = ("networks", key)
            if not isinstance(body, dict):
                self.fail(path, f"must be a mapping, but {_shown(body)} was found")
                continue
            if body.get("external") in (True, "true"):
                continue
            record = Output("network", key, [Entry("name", {"name": self.network_name(key)})])
            for sub, value in body.items():
                here = (*path, sub)
                entry = Entry(sub)
                if sub == "name":
                    continue
                if sub == "driver":
                    entry.values["driver"] = str(value)
                elif sub == "internal":
                    entry.values["internal"] = _boolean(value)
                elif sub == "enable_ipv6":
                    entry.values["ipv6"] = _boolean(value)
                elif sub == "labels":
                    entry.values["labels"] = self.labels(value, here)
                elif sub == "ipam" and isinstance(value, dict):
                    pools = value.get("config") or []
                    if isinstance(pools, list) and pools and isinstance(pools[0], dict):
                        for k, corral in (
                            ("subnet", "subnet"),
                            ("gateway", "gateway"),
                            ("ip_range", "ip_range"),
                        ):
                            if pools[0].get(k) is not None:
                                entry.values[corral] = str(pools[0][k])
                    rest = {k for k in value if k != "config"} | (
                        {"config[1:]"} if isinstance(pools, list) and len(pools) > 1 else set()
                    )
                    if rest:
                        entry.skipped = Skipped(
                            f"networks.{key}",
                            sub,
                            here,
                            value,
                            "corral takes one IPAM pool's subnet, gateway and ip_range",
                        )
                elif sub == "driver_opts" and isinstance(value, dict):
                    entry.values["extra_arguments"] = [
                        w for k, v in value.items() for w in ("--opt", f"{k}={v}")
                    ]
                else:
                    entry.skipped = Skipped(
                        f"networks.{key}", sub, here, value, f"corral's networks have no {sub}"
                    )
                record.entries.append(entry)
            self.records.append(record)
        if used and DEFAULT_NETWORK not in self.networks:
            self.records.append(
                Output(
                    "network",
                    DEFAULT_NETWORK,
                    [Entry("name", {"name": self.network_name(DEFAULT_NETWORK)})],
                )
            )

    def top_volumes(self) -> None:
        for key, body in self.volumes.items():
            path: Path = ("volumes", key)
            if not isinstance(body, dict):
                self.fail(path, f"must be a mapping, but {_shown(body)} was found")
                continue
            if body.get("external") in (True, "true"):
                continue
            record = Output("volume", key, [Entry("name", {"name": self.volume_name(key)})])
            for sub, value in body.items():
                here = (*path, sub)
                if sub == "name":
                    continue
                entry = Entry(sub)
                if sub == "driver":
                    entry.values["driver"] = str(value)
                elif sub == "labels":
                    entry.values["labels"] = self.labels(value, here)
                elif sub == "driver_opts" and isinstance(value, dict):
                    entry.values["extra_arguments"] = [
                        w for k, v in value.items() for w in ("--opt", f"{k}={v}")
                    ]
                else:
                    entry.skipped = Skipped(
                        f"volumes.{key}", sub, here, value, f"corral's volumes have no {sub}"
                    )
                record.entries.append(entry)
            self.records.append(record)

    def top_secrets(self) -> None:
        for key, body in self.secrets.items():
            path: Path = ("secrets", key)
            if not isinstance(body, dict):
                self.fail(path, f"must be a mapping, but {_shown(body)} was found")
                continue
            known = {
                "file",
                "environment",
                "external",
                "name",
                "labels",
                "driver",
                "driver_opts",
                "template_driver",
            }
            for sub in body:
                if sub not in known and not sub.startswith("x-"):
                    self.fail((*path, sub), f"unknown key {_shown(sub)} in a secret")

    # -- services --------------------------------------------------------

    def service(self, name: str, body: dict[str, Any]) -> Output:
        path: Path = ("services", name)
        record = Output("container", name)
        own = self.container_name(name)
        record.entries.append(
            Entry("container_name" if "container_name" in body else "", {"provision": own})
        )
        argv = self.argv(body, path)
        converters = self._converters()
        has_networks = "networks" in body or "network_mode" in body
        for key, value in body.items():
            here = (*path, key)
            if key.startswith("x-"):
                record.entries.append(
                    Entry(
                        key,
                        skipped=Skipped(f"services.{name}", key, here, value, "an extension field"),
                    )
                )
                continue
            if key not in SERVICE_KEYS:
                close = difflib.get_close_matches(key, sorted(SERVICE_KEYS), n=1, cutoff=0.7)
                hint = f" (did you mean {_shown(close[0])}?)" if close else ""
                self.fail(here, f"unknown key {_shown(key)}{hint}")
                continue
            if key in ("container_name", "extends"):
                continue  # the name is the provision; an extends left is a reported error
            entry = Entry(key)
            try:
                if key in ("command", "entrypoint"):
                    entry.values.update(argv.get(key, {}))
                elif key in UNSUPPORTED:
                    entry.skipped = Skipped(f"services.{name}", key, here, value, UNSUPPORTED[key])
                elif key in converters:
                    converters[key](name, value, here, entry)
                else:
                    self.simple(key, value, here, entry)
            except ValueError as error:
                self.fail(here, str(error))
                continue
            if entry.skipped is not None:
                entry.skipped = Skipped(f"services.{name}", *_tail(entry.skipped))
            record.entries.append(entry)
        if not has_networks:
            self.uses_default = True
            entry = Entry("", {"networks": [self.attachment(name, DEFAULT_NETWORK, None)]})
            record.entries.append(entry)
        if name in self.one_shot:
            record.entries.append(Entry("", {"one_shot": True}))
        return record

    def _converters(self) -> dict[str, Callable[[str, Any, Path, Entry], None]]:
        return {
            "image": self.image,
            "build": self.build,
            "environment": self.environment,
            "env_file": self.env_file,
            "ports": self.ports,
            "volumes": self.service_volumes,
            "networks": self.service_networks,
            "network_mode": self.network_mode,
            "secrets": self.service_secrets,
            "healthcheck": self.healthcheck,
            "deploy": self.deploy,
            "ulimits": self.ulimits,
            "sysctls": self.sysctls,
            "extra_hosts": self.extra_hosts,
            "labels": self.service_labels,
            "stop_grace_period": self.stop_grace,
            "pull_policy": self.pull,
            "restart": self.restart,
            "depends_on": self.depends_on,
            "profiles": self.profiles,
        }

    def simple(self, key: str, value: Any, path: Path, entry: Entry) -> None:
        if key in _SIZES:
            entry.values[_SIZES[key]] = -1 if value in (-1, "-1") else values.size(value)
            return
        corral = RENAMED[key]
        if key in _BOOLEAN:
            entry.values[corral] = _boolean(value)
        elif key in _INTEGER:
            entry.values[corral] = _integer(value)
        elif key in _LISTS:
            members = [value] if isinstance(value, str | int) else value
            if not isinstance(members, list):
                raise ValueError(f"must be a string or a list, but {_shown(value)} was found")
            if key == "devices":
                members = [_device(m) for m in members]
            if key == "security_opt" and "no-new-privileges:true" in members:
                members = [m for m in members if m != "no-new-privileges:true"]
                entry.values["no_new_privileges"] = True
            if key == "tmpfs":
                entry.values.setdefault(corral, [])
            entry.values[corral] = [str(m) for m in members]
        elif key == "cpus":
            entry.values[corral] = float(value) if not isinstance(value, bool) else value
        else:
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise ValueError(f"must be a string, but {_shown(value)} was found")
            entry.values[corral] = str(value)

    def argv(self, body: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
        """``entrypoint`` and ``command`` as corral's ``entrypoint`` (one program) and
        ``command`` (the rest of the entrypoint, then the command)."""
        out: dict[str, dict[str, Any]] = {}
        words: dict[str, list[str] | None] = {}
        for key in ("entrypoint", "command"):
            if key not in body:
                continue
            value = body[key]
            if value is None:
                words[key] = None
            elif isinstance(value, str):
                try:
                    words[key] = shlex.split(value)
                except ValueError as error:
                    self.fail((*path, key), f"cannot be split into words: {error}")
                    words[key] = []
            elif isinstance(value, list) and all(isinstance(w, str | int | float) for w in value):
                words[key] = [str(w) for w in value]
            else:
                self.fail(
                    (*path, key),
                    f"must be a string or a list of strings, but {_shown(value)} was found",
                )
                words[key] = []
        entry = words.get("entrypoint")
        rest: list[str] = []
        if entry:
            out["entrypoint"] = {"entrypoint": entry[0]}
            rest = entry[1:]
        command = words.get("command")
        if command is not None or rest:
            target = "command" if "command" in body else "entrypoint"
            out.setdefault(target, {})["command"] = rest + (command or [])
        return out

    def image(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"must be an image reference, but {_shown(value)} was found")
        body = self.services[name]
        if "build" in body:
            return  # the build's image record is tagged with it (see build)
        entry.values["image"] = value

    def build(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        spec = {"context": value} if isinstance(value, str) else value
        if not isinstance(spec, dict):
            raise ValueError(f"must be a context path or a mapping, but {_shown(value)} was found")
        build: dict[str, Any] = {}
        skipped: dict[str, Any] = {}
        for key, sub in spec.items():
            if key == "context":
                build["context"] = self.host_path(str(sub))
            elif key == "dockerfile":
                build["dockerfile"] = str(sub)
            elif key == "args":
                build["args"] = _string_map(sub, "args")
            elif key == "target":
                build["target"] = str(sub)
            elif key == "labels":
                build["labels"] = _string_map(sub, "labels")
            elif key == "pull":
                build["pull"] = _boolean(sub)
            else:
                skipped[key] = sub
        build.setdefault("context", self.host_path("."))
        reference = self.services[name].get("image")
        repository, tag = _split_reference(
            reference if isinstance(reference, str) else f"{self.name or 'compose'}-{name}"
        )
        entry.values["image"] = {"repository": repository, "tag": tag, "build": build}
        if skipped:
            entry.skipped = Skipped(
                "", "build", path, skipped, f"corral's builds have no {', '.join(sorted(skipped))}"
            )

    def environment(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {_shown(value)} was found")
        out: list[str] = []
        missing: list[str] = []
        for key, sub in value.items():
            if sub is None:
                if key in self.project.env:
                    out.append(f"{key}={self.project.env[key]}")
                else:
                    missing.append(key)
                continue
            out.append(f"{key}={_scalar(sub)}")
        entry.values["environment"] = out
        if missing:
            entry.skipped = Skipped(
                "", "environment", path, missing, "no value: unset in the environment and .env"
            )

    def env_file(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        members = [value] if isinstance(value, str) else value
        if not isinstance(members, list):
            raise ValueError(f"must be a path or a list, but {_shown(value)} was found")
        files: list[str] = []
        for member in members:
            if isinstance(member, dict):
                target = member.get("path")
                required = member.get("required", True)
                if not isinstance(target, str):
                    raise ValueError("an env_file entry needs path")
                if required in (False, "false") and not os.path.exists(
                    os.path.join(self.project.directory, target)
                ):
                    continue
                files.append(self.host_path(target))
            elif isinstance(member, str):
                files.append(self.host_path(member))
            else:
                raise ValueError(f"members must be paths, but {_shown(member)} was found")
        entry.values["env_files"] = files

    def ports(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, but {_shown(value)} was found")
        out: list[str] = []
        for i, member in enumerate(value):
            try:
                out.append(values.port(member))
            except ValueError as error:
                self.fail((*path, i), str(error))
        entry.values["ports"] = out

    def service_volumes(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, but {_shown(value)} was found")
        mounts: list[str] = []
        tmpfs: list[str] = []
        for i, member in enumerate(value):
            try:
                kind, source, rest = values.volume(member)
            except ValueError as error:
                self.fail((*path, i), str(error))
                continue
            if kind == "tmpfs":
                tmpfs.append(rest)
            elif source is None:
                mounts.append(rest)
            elif kind == "bind":
                mounts.append(f"{self.host_path(source)}:{rest}")
            else:
                if source not in self.volumes:
                    self.fail(
                        (*path, i),
                        f"names the volume {_shown(source)}, which the top-level volumes "
                        "do not declare",
                    )
                mounts.append(f"{self.volume_name(source)}:{rest}")
        entry.values["volumes"] = mounts
        if tmpfs:
            existing = self.services[name].get("tmpfs")
            before = [existing] if isinstance(existing, str) else list(existing or [])
            entry.values["tmpfs"] = [*before, *tmpfs] if "tmpfs" not in entry.values else tmpfs

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

    def service_networks(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {_shown(value)} was found")
        out: list[Any] = []
        for key, spec in value.items():
            if key not in self.networks and key != DEFAULT_NETWORK:
                self.fail(
                    (*path, key),
                    f"names the network {_shown(key)}, which the top-level networks do not declare",
                )
                continue
            if key == DEFAULT_NETWORK and key not in self.networks:
                self.uses_default = True
            if spec is not None and not isinstance(spec, dict):
                self.fail((*path, key), f"must be a mapping, but {_shown(spec)} was found")
                continue
            unknown = set(spec or {}) - {
                "aliases",
                "ipv4_address",
                "ipv6_address",
                "priority",
                "link_local_ips",
                "mac_address",
                "driver_opts",
                "gw_priority",
                "interface_name",
            }
            if unknown:
                self.fail((*path, key), f"unknown key {sorted(unknown)[0]!r}")
            out.append(self.attachment(name, key, spec))
        entry.values["networks"] = out

    def network_mode(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, str):
            raise ValueError(f"must be a string, but {_shown(value)} was found")
        if value.startswith("service:"):
            entry.skipped = Skipped(
                "", "network_mode", path, value, "corral joins containers by name: container:NAME"
            )
            other = value.split(":", 1)[1]
            entry.values["network"] = f"container:{self.container_name(other)}"
            entry.skipped = None
            return
        entry.values["network"] = value

    def service_secrets(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, but {_shown(value)} was found")
        out: list[dict[str, Any]] = []
        left: list[Any] = []
        for i, member in enumerate(value):
            spec = {"source": member} if isinstance(member, str) else member
            if not isinstance(spec, dict) or not isinstance(spec.get("source"), str):
                self.fail((*path, i), "a secret is a name or {source, target, uid, gid, mode}")
                continue
            source = spec["source"]
            top = self.secrets.get(source)
            if top is None:
                self.fail(
                    (*path, i),
                    f"names the secret {_shown(source)}, which the top-level secrets "
                    "do not declare",
                )
                continue
            if "file" not in top:
                left.append(member)
                continue
            target = str(spec.get("target") or source)
            secret: dict[str, Any] = {
                "source": self.host_path(str(top["file"])),
                "target": target if target.startswith("/") else f"/run/secrets/{target}",
            }
            for k in ("uid", "gid"):
                if spec.get(k) is not None:
                    secret[k] = _integer(spec[k])
            mode = spec.get("mode")
            if mode is not None:
                secret["mode"] = f"0{mode:o}" if isinstance(mode, int) else str(mode)
            out.append(secret)
        entry.values["secrets"] = out
        if left:
            entry.skipped = Skipped(
                "",
                "secrets",
                path,
                left,
                "corral's secrets are files; an environment secret is not",
            )

    def healthcheck(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping, but {_shown(value)} was found")
        if value.get("disable") in (True, "true"):
            return
        test = value.get("test")
        if isinstance(test, str):
            entry.values["health_cmd"] = test
        elif isinstance(test, list) and test and all(isinstance(w, str) for w in test):
            if test[0] == "NONE":
                return
            if test[0] == "CMD-SHELL":
                entry.values["health_cmd"] = " ".join(test[1:])
            elif test[0] == "CMD":
                entry.values["health_cmd"] = test[1:]  # exec form: no shell
            else:
                self.fail((*path, "test"), 'test must start with "CMD", "CMD-SHELL" or "NONE"')
        elif test is not None:
            self.fail((*path, "test"), f"must be a string or a list, but {_shown(test)} was found")
        timing = {
            "interval": "health_interval",
            "timeout": "health_timeout",
            "start_period": "health_start_period",
            "start_interval": "health_start_interval",
        }
        for key, sub in value.items():
            if key in timing:
                try:
                    entry.values[timing[key]] = values.seconds(sub)
                except ValueError as error:
                    self.fail((*path, key), str(error))
            elif key == "retries":
                entry.values["health_retries"] = _integer(sub)
            elif key not in ("test", "disable"):
                self.fail((*path, key), f"unknown key {_shown(key)} in healthcheck")

    def deploy(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping, but {_shown(value)} was found")
        left: dict[str, Any] = {}
        for key, sub in value.items():
            if key != "resources" or not isinstance(sub, dict):
                left[key] = sub
                continue
            for kind, limits in sub.items():
                if kind not in ("limits", "reservations") or not isinstance(limits, dict):
                    left.setdefault("resources", {})[kind] = limits
                    continue
                for k, v in limits.items():
                    here = (*path, "resources", kind, k)
                    try:
                        if kind == "limits" and k == "cpus":
                            entry.values["cpus"] = float(v)
                        elif kind == "limits" and k == "memory":
                            entry.values["memory"] = values.size(v)
                        elif kind == "limits" and k == "pids":
                            entry.values["pids_limit"] = _integer(v)
                        elif kind == "reservations" and k == "memory":
                            entry.values["memory_reservation"] = values.size(v)
                        else:
                            left.setdefault("resources", {}).setdefault(kind, {})[k] = v
                    except ValueError as error:
                        self.fail(here, str(error))
        if left:
            entry.skipped = Skipped(
                "",
                "deploy",
                path,
                left,
                "corral takes deploy.resources' cpus, memory and pids; the "
                "rest is for an orchestrator",
            )

    def ulimits(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping, but {_shown(value)} was found")
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if isinstance(sub, dict):
                out[key] = [_integer(sub.get("soft")), _integer(sub.get("hard"))]
            else:
                out[key] = _integer(sub)
        entry.values["ulimits"] = out

    def sysctls(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.values["sysctls"] = {k: _scalar(v) for k, v in _string_map(value, "sysctls").items()}

    def extra_hosts(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {_shown(value)} was found")
        out: list[str] = []
        for host, address in value.items():
            addresses = address if isinstance(address, list) else [address]
            out.extend(f"{host}:{a}" for a in addresses)
        entry.values["extra_hosts"] = out

    def labels(self, value: Any, path: Path) -> dict[str, str]:
        if isinstance(value, list):
            pairs = [str(m).partition("=") for m in value]
            return {k: v for k, _, v in pairs}
        return _string_map(value, "labels")

    def service_labels(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.values["labels"] = self.labels(value, path)

    def stop_grace(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.values["stop_timeout"] = values.seconds(value)

    def pull(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, str) or value not in _PULL:
            raise ValueError(
                f"must be one of {', '.join(sorted(_PULL))}, but {_shown(value)} was found"
            )
        policy = _PULL[value]
        if policy is None:
            entry.skipped = Skipped(
                "", "pull_policy", path, value, f"corral's pull has no {_shown(value)}"
            )
        else:
            entry.values["pull"] = policy

    def restart(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, str):
            raise ValueError(f"must be a string, but {_shown(value)} was found")
        policy, _, count = value.partition(":")
        if policy == "no":
            entry.values["respawn"] = False
        elif policy in ("always", "unless-stopped"):
            entry.values["respawn"] = True
        elif policy == "on-failure":
            entry.values["respawn"] = True
            entry.values["respawn_on"] = "failure"
            if count:
                if not count.isdigit() or int(count) < 1:
                    raise ValueError(
                        f"on-failure takes a positive count, but {_shown(value)} was found"
                    )
                entry.values["respawn_limit"] = {"starts": int(count), "seconds": 86400.0}
        else:
            raise ValueError(
                "must be no, always, unless-stopped or on-failure[:N], "
                f"but {_shown(value)} was found"
            )

    def depends_on(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {_shown(value)} was found")
        out: list[str] = []
        for dep, spec in value.items():
            if dep not in self.services:
                self.fail(
                    (*path, dep),
                    f"names the service {_shown(dep)}, which is not declared "
                    "(or its profile is not active)",
                )
                continue
            if isinstance(spec, dict):
                condition = spec.get("condition", "service_started")
                if condition not in (
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully",
                ):
                    self.fail((*path, dep, "condition"), f"unknown condition {_shown(condition)}")
                extra = {k: v for k, v in spec.items() if k != "condition"}
                if extra:
                    entry.skipped = Skipped(
                        "",
                        f"depends_on.{dep}",
                        (*path, dep),
                        extra,
                        "a corral requirement is always required and restarts nothing",
                    )
            out.append(self.container_name(dep))
        entry.values["requirement"] = out

    def profiles(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.skipped = Skipped(
            "", "profiles", path, value, "profiles are applied when the file is read"
        )


def _tail(skipped: Skipped) -> tuple[str, Path, Any, str]:
    return skipped.key, skipped.path, skipped.value, skipped.reason


def _dig(model: Any, path: Path) -> Any:
    for part in path:
        inside = (isinstance(model, dict) and part in model) or (
            isinstance(model, list) and isinstance(part, int) and part < len(model)
        )
        if inside:
            model = model[part]
        else:
            return None
    return model


def _split_reference(reference: str) -> tuple[str, str]:
    name = reference.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


def _shown(value: Any) -> str:
    from corral.config._fields import show

    return show(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise ValueError(f"must be true or false, but {_shown(value)} was found")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, but {_shown(value)} was found")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"must be an integer, but {_shown(value)} was found")


def _string_map(value: Any, what: str) -> dict[str, str]:
    if isinstance(value, list):
        return {k: v for k, _, v in (str(m).partition("=") for m in value)}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a list or a mapping, but {_shown(value)} was found")
    return {str(k): _scalar(v) for k, v in value.items()}


def _device(member: Any) -> Any:
    if isinstance(member, dict):
        parts = [str(member.get("source", "")), str(member.get("target", member.get("source")))]
        if member.get("permissions"):
            parts.append(str(member["permissions"]))
        return ":".join(parts)
    return member
