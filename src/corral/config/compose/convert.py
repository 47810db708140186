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

from corral.config.compose.keys import DEFAULT_NETWORK, EXTENSION
from corral.config.compose.model import Conversion, Entry, Output, Skipped
from corral.config.compose.project import ComposeProject
from corral.config.compose.services import ServiceConverter
from corral.config.compose.values import boolean, dig, shown
from corral.errors import ConfigError, Path

__all__ = ["Conversion", "Entry", "Output", "Skipped", "convert"]


def convert(
    project: ComposeProject, *, project_name: str | None = None, base: str | None = None
) -> Conversion:
    """Convert ``project``; relative host paths become relative to ``base`` (the
    corral file's directory; default the project directory). ``project_name``
    (else the file's ``name:``) prefixes names as Compose does."""
    value = project.model.get("name")
    name = project_name or (value if isinstance(value, str) and value else None)
    return _Converter(project, name, base or project.directory).run()


class _Converter(ServiceConverter):
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
            compose_value = dig(self.project.model, source)
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
                    self.fail(path, f"must be a mapping, but {shown(value)} was found")
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
                self.fail(path, f"must be a mapping, but {shown(body)} was found")
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
                    entry.values["internal"] = boolean(value)
                elif sub == "enable_ipv6":
                    entry.values["ipv6"] = boolean(value)
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
                self.fail(path, f"must be a mapping, but {shown(body)} was found")
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
                self.fail(path, f"must be a mapping, but {shown(body)} was found")
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
                    self.fail((*path, sub), f"unknown key {shown(sub)} in a secret")
