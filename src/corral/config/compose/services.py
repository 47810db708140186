"""Each service key converted (a method per key, or the table of simple ones)."""

from __future__ import annotations

import difflib
import os
import shlex
from collections.abc import Callable
from typing import Any

from corral.config.compose import values
from corral.config.compose.base import ConverterBase
from corral.config.compose.keys import (
    BOOLEAN,
    DEFAULT_NETWORK,
    INTEGER,
    LISTS,
    PULL,
    RENAMED,
    SERVICE_KEYS,
    SIZES,
    UNSUPPORTED,
)
from corral.config.compose.model import Entry, Output, Skipped, tail
from corral.config.compose.values import (
    boolean,
    device,
    integer,
    scalar,
    shown,
    split_reference,
    string_map,
)
from corral.errors import Path


class ServiceConverter(ConverterBase):
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
                hint = f" (did you mean {shown(close[0])}?)" if close else ""
                self.fail(here, f"unknown key {shown(key)}{hint}")
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
                entry.skipped = Skipped(f"services.{name}", *tail(entry.skipped))
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
            "links": self.links,
        }

    def simple(self, key: str, value: Any, path: Path, entry: Entry) -> None:
        if key in SIZES:
            entry.values[SIZES[key]] = -1 if value in (-1, "-1") else values.size(value)
            return
        corral = RENAMED[key]
        if key in BOOLEAN:
            entry.values[corral] = boolean(value)
        elif key in INTEGER:
            entry.values[corral] = integer(value)
        elif key in LISTS:
            members = [value] if isinstance(value, str | int) else value
            if not isinstance(members, list):
                raise ValueError(f"must be a string or a list, but {shown(value)} was found")
            if key == "devices":
                members = [device(m) for m in members]
            if key == "security_opt" and "no-new-privileges:true" in members:
                members = [m for m in members if m != "no-new-privileges:true"]
                entry.values["no_new_privileges"] = True
            entry.values[corral] = [str(m) for m in members]
        elif key == "cpus":
            entry.values[corral] = float(value) if not isinstance(value, bool) else value
        else:
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise ValueError(f"must be a string, but {shown(value)} was found")
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
                    f"must be a string or a list of strings, but {shown(value)} was found",
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
            raise ValueError(f"must be an image reference, but {shown(value)} was found")
        body = self.services[name]
        if "build" in body:
            return  # the build's image record is tagged with it (see build)
        entry.values["image"] = value

    def build(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        spec = {"context": value} if isinstance(value, str) else value
        if not isinstance(spec, dict):
            raise ValueError(f"must be a context path or a mapping, but {shown(value)} was found")
        build: dict[str, Any] = {}
        skipped: dict[str, Any] = {}
        for key, sub in spec.items():
            if key == "context":
                build["context"] = self.host_path(str(sub))
            elif key == "dockerfile":
                build["dockerfile"] = str(sub)
            elif key == "args":
                build["args"] = string_map(sub, "args")
            elif key == "target":
                build["target"] = str(sub)
            elif key == "labels":
                build["labels"] = string_map(sub, "labels")
            elif key == "pull":
                build["pull"] = boolean(sub)
            else:
                skipped[key] = sub
        build.setdefault("context", self.host_path("."))
        reference = self.services[name].get("image")
        repository, tag = split_reference(
            reference if isinstance(reference, str) else f"{self.name or 'compose'}-{name}"
        )
        entry.values["image"] = {"repository": repository, "tag": tag, "build": build}
        if skipped:
            entry.skipped = Skipped(
                "", "build", path, skipped, f"corral's builds have no {', '.join(sorted(skipped))}"
            )

    def environment(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {shown(value)} was found")
        out: list[str] = []
        missing: list[str] = []
        for key, sub in value.items():
            if sub is None:
                if key in self.project.env:
                    out.append(f"{key}={self.project.env[key]}")
                else:
                    missing.append(key)
                continue
            out.append(f"{key}={scalar(sub)}")
        entry.values["environment"] = out
        if missing:
            entry.skipped = Skipped(
                "", "environment", path, missing, "no value: unset in the environment and .env"
            )

    def env_file(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        members = [value] if isinstance(value, str) else value
        if not isinstance(members, list):
            raise ValueError(f"must be a path or a list, but {shown(value)} was found")
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
                raise ValueError(f"members must be paths, but {shown(member)} was found")
        entry.values["env_files"] = files

    def ports(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, but {shown(value)} was found")
        out: list[str] = []
        for i, member in enumerate(value):
            try:
                out.append(values.port(member))
            except ValueError as error:
                self.fail((*path, i), str(error))
        entry.values["ports"] = out

    def service_volumes(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, but {shown(value)} was found")
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
                        f"names the volume {shown(source)}, which the top-level volumes "
                        "do not declare",
                    )
                mounts.append(f"{self.volume_name(source)}:{rest}")
        entry.values["volumes"] = mounts
        if tmpfs:
            entry.values["tmpfs"] = tmpfs  # with the tmpfs key's (Output.data)

    def service_networks(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {shown(value)} was found")
        out: list[Any] = []
        for key, spec in value.items():
            if key not in self.networks and key != DEFAULT_NETWORK:
                self.fail(
                    (*path, key),
                    f"names the network {shown(key)}, which the top-level networks do not declare",
                )
                continue
            if key == DEFAULT_NETWORK and key not in self.networks:
                self.uses_default = True
            if spec is not None and not isinstance(spec, dict):
                self.fail((*path, key), f"must be a mapping, but {shown(spec)} was found")
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
            raise ValueError(f"must be a string, but {shown(value)} was found")
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
            raise ValueError(f"must be a list, but {shown(value)} was found")
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
                    f"names the secret {shown(source)}, which the top-level secrets do not declare",
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
                    secret[k] = integer(spec[k])
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
            raise ValueError(f"must be a mapping, but {shown(value)} was found")
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
            self.fail((*path, "test"), f"must be a string or a list, but {shown(test)} was found")
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
                entry.values["health_retries"] = integer(sub)
            elif key not in ("test", "disable"):
                self.fail((*path, key), f"unknown key {shown(key)} in healthcheck")

    def deploy(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping, but {shown(value)} was found")
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
                            entry.values["pids_limit"] = integer(v)
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
            raise ValueError(f"must be a mapping, but {shown(value)} was found")
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if isinstance(sub, dict):
                out[key] = [integer(sub.get("soft")), integer(sub.get("hard"))]
            else:
                out[key] = integer(sub)
        entry.values["ulimits"] = out

    def sysctls(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.values["sysctls"] = {k: scalar(v) for k, v in string_map(value, "sysctls").items()}

    def extra_hosts(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {shown(value)} was found")
        out: list[str] = []
        for host, address in value.items():
            addresses = address if isinstance(address, list) else [address]
            out.extend(f"{host}:{a}" for a in addresses)
        entry.values["extra_hosts"] = out

    def service_labels(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.values["labels"] = self.labels(value, path)

    def stop_grace(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.values["stop_timeout"] = values.seconds(value)

    def pull(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, str) or value not in PULL:
            raise ValueError(
                f"must be one of {', '.join(sorted(PULL))}, but {shown(value)} was found"
            )
        policy = PULL[value]
        if policy is None:
            entry.skipped = Skipped(
                "", "pull_policy", path, value, f"corral's pull has no {shown(value)}"
            )
        else:
            entry.values["pull"] = policy

    def restart(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, str):
            raise ValueError(f"must be a string, but {shown(value)} was found")
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
                        f"on-failure takes a positive count, but {shown(value)} was found"
                    )
                entry.values["respawn_limit"] = {"starts": int(count), "seconds": 86400.0}
        else:
            raise ValueError(
                "must be no, always, unless-stopped or on-failure[:N], "
                f"but {shown(value)} was found"
            )

    def depends_on(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must be a list or a mapping, but {shown(value)} was found")
        out: list[str] = []
        for dep, spec in value.items():
            if dep not in self.services:
                self.fail(
                    (*path, dep),
                    f"names the service {shown(dep)}, which is not declared "
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
                    self.fail((*path, dep, "condition"), f"unknown condition {shown(condition)}")
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

    def links(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        """Compose starts a linked service first: a requirement. The link's alias is
        not converted (the service already answers by its names on its networks)."""
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            raise ValueError(f"must be a list of SERVICE[:ALIAS], but {shown(value)} was found")
        out: list[str] = []
        aliased: list[str] = []
        for i, member in enumerate(value):
            service, _, alias = member.partition(":")
            if service not in self.services:
                self.fail((*path, i), f"names the service {shown(service)}, which is not declared")
                continue
            out.append(self.container_name(service))
            if alias and alias != service:
                aliased.append(member)
        entry.values["requirement"] = out
        if aliased:
            entry.skipped = Skipped(
                "", "links", path, aliased, "a link's alias is not converted; the requirement is"
            )

    def profiles(self, name: str, value: Any, path: Path, entry: Entry) -> None:
        entry.skipped = Skipped(
            "", "profiles", path, value, "profiles are applied when the file is read"
        )
