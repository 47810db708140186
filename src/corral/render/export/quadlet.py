"""``corral export quadlet``: Podman Quadlet files for Podman 5 — ``NAME.container``
per container, ``NAME.network`` and ``NAME.volume`` per declared network and
volume. Pure.

Only keys podman-systemd.unit(5) documents for their section are written
(``quadlet_keys.KEYS``, with the first Podman that has each: ``Memory=`` needs
5.5, ``NetworkAlias=``/``StopSignal=`` 5.2, ``GroupAdd=`` 5.1, ``AddHost=`` 5.3);
a run option without a key of its own goes through ``PodmanArgs=`` with the
spec's own words. host_environment and secret files become Podman secrets
(``Secret=``), created beforehand with ``podman secret create`` (the comment
says how; no value is written). A required container with a health check gets
``Notify=healthy`` so its dependents start once it is healthy.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from corral.config import Config, Network, OciContainer, Volume
from corral.config.container import NetworkAttachment
from corral.config.mounts import Mount
from corral.render.export.model import (
    Exported,
    Row,
    Settings,
    Table,
    Unit,
    corral_built,
    fill,
    hidden_names,
    host_environment_read,
    image_of,
    units,
)
from corral.render.export.systemd import command_line
from corral.render.spec import OPTIONS_BY_NAME, Health, duration

TARGET = "quadlet"


class File:
    """A Quadlet file's sections as ordered (key, value) lines."""

    def __init__(self, section: str) -> None:
        self.section = section
        self.unit: list[tuple[str, str]] = []
        self.main: list[tuple[str, str]] = []
        self.service: list[tuple[str, str]] = []
        self.install: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.podman_args: list[str] = []

    def add(self, key: str, value: str) -> None:
        self.main.append((key, value))

    def text(self) -> str:
        main = list(self.main)
        if self.podman_args:
            main.append(("PodmanArgs", command_line(self.podman_args)))
        head = [f"# {c}" for c in self.comments]
        sections = [
            "\n".join([f"[{title}]", *(f"{k}={v}" for k, v in entries)])
            for title, entries in (
                ("Unit", self.unit),
                (self.section, main),
                ("Service", self.service),
                ("Install", self.install),
            )
            if entries
        ]
        return "\n".join(head) + ("\n" if head else "") + "\n\n".join(sections) + "\n"


def raw(text: str) -> str:
    """A value Quadlet takes as the rest of the line and hands to the unit's
    command line as is: systemd's specifiers and variables escaped."""
    return text.replace("%", "%%").replace("$", "$$")


def podman_secret(service: str, what: str) -> str:
    return f"{service}-{what}".replace("_", "-").lower()


def _key(key: str, convert: Callable[[Any], str] = str) -> Callable[[File, Any, Unit], None]:
    def put(out: File, value: Any, unit: Unit) -> None:
        out.add(key, convert(value))

    return put


def _each(key: str, convert: Callable[[Any], str] = str) -> Callable[[File, Any, Unit], None]:
    def put(out: File, values: Any, unit: Unit) -> None:
        for value in values:
            out.add(key, convert(value))

    return put


def _args(name: str) -> Callable[[File, Any, Unit], None]:
    """A run option without a Quadlet key: its words in ``PodmanArgs=``."""
    option = OPTIONS_BY_NAME[name]

    def put(out: File, value: Any, unit: Unit) -> None:
        out.podman_args += option.words(option.flag, value)

    return put


def _pairs(key: str) -> Callable[[File, Any, Unit], None]:
    """A table: ``KEY=K=V`` per entry."""

    def put(out: File, value: Any, unit: Unit) -> None:
        for k, x in value.items():
            out.add(key, command_line([f"{k}={x}"]))

    return put


def _name(unit: Unit) -> Any:
    return getattr(unit.record, "name", None)


def _flag(key: str) -> Callable[[File, Any, Unit], None]:
    return lambda out, value, unit: out.add(key, "true")


def _image(out: File, value: Any, unit: Unit) -> None:
    out.add("Image", image_of(unit))
    built = corral_built(unit)
    if built is not None and built.build is not None:
        out.comments.append(
            f"built from a Dockerfile: podman build -t {image_of(unit)} -f "
            f"{shlex.quote(built.build.dockerfile)} {shlex.quote(built.build.context)}"
        )
    elif built is not None and unit.settings.images.get(unit.name) is None:
        unit.note(f"corral builds {image_of(unit)}: `corral image load {unit.name}` with "
                  "runtime = \"podman\" makes it present")  # fmt: skip


def _pull_policy(unit: Unit) -> str | None:
    """The pull policy when it is not Podman's default (missing)."""
    policy = unit.container.pull or unit.config.pull
    return None if policy == "missing" else policy


def _pull(out: File, value: str, unit: Unit) -> None:
    out.add("Pull", value)


def _environment(out: File, value: Any, unit: Unit) -> None:
    for key, text in value:
        if text is None:
            continue  # from host_environment: a secret (see its row)
        out.add("Environment", command_line([f"{key}={text}"]))


def _host_environment(out: File, value: Any, unit: Unit) -> None:
    read, _ = host_environment_read(unit.container)
    for name in read:
        secret = podman_secret(unit.name, name)
        out.add("Secret", f"{secret},type=env,target={name}")
        out.comments.append(f"create it first: printf %s \"${name}\" | podman secret create "
                            f"{secret} -")  # fmt: skip
    unread = [n for n in hidden_names(unit.container) if n not in read]
    if unread:
        unit.warn(f"{', '.join(unread)} reach only the engine CLI's environment, not the container")


def _env_files(out: File, value: Any, unit: Unit) -> None:
    for path in value.paths:
        out.add("EnvironmentFile", raw(path))


def _user(out: File, value: str, unit: Unit) -> None:
    user, sep, group = value.partition(":")
    out.add("User", user)
    if sep:
        out.add("Group", group)


def _network(out: File, value: str, unit: Unit) -> None:
    declared = {n.name for n in unit.config.networks}
    out.add("Network", f"{value}.network" if value in declared else value)
    for alias in unit.container.network_aliases:
        out.add("NetworkAlias", alias)


def _networks(out: File, value: tuple[NetworkAttachment, ...], unit: Unit) -> None:
    declared = {n.name for n in unit.config.networks}
    for i, attachment in enumerate(value):
        target = f"{attachment.name}.network" if attachment.name in declared else attachment.name
        out.add("Network", target)
        if i == 0:
            for alias in attachment.aliases:
                out.add("NetworkAlias", alias)
            if attachment.ipv4_address:
                out.add("IP", attachment.ipv4_address)
            if attachment.ipv6_address:
                out.add("IP6", attachment.ipv6_address)
        elif attachment.aliases or attachment.ipv4_address or attachment.ipv6_address:
            unit.warn(f"aliases and addresses on {attachment.name}: Quadlet's NetworkAlias=, IP= "
                      "apply to the first network only")  # fmt: skip


def _volumes(out: File, value: tuple[Mount, ...], unit: Unit) -> None:
    declared = {v.name for v in unit.config.volumes}
    for mount in value:
        if mount.source is not None and mount.source in declared:
            mount = Mount(f"{mount.source}.volume", mount.target, mount.options)
        out.add("Volume", raw(mount.text))


def _health(out: File, value: Health, unit: Unit) -> None:
    command = unit.container.health_cmd
    out.add("HealthCmd", raw(command if isinstance(command, str) else value.cli_command))
    out.add("HealthInterval", duration(value.interval))
    out.add("HealthTimeout", duration(value.timeout))
    out.add("HealthRetries", str(value.retries))
    out.add("HealthStartPeriod", duration(value.start_period))
    if unit.container.on_unhealthy == "restart":
        out.add("HealthOnFailure", "kill")
    if value.start_interval is not None:
        unit.warn("Quadlet's HealthStartup* keys are a separate startup check, not an interval",
                  "health_start_interval")  # fmt: skip
    if unit.index.dependents.get(unit.name):
        out.add("Notify", "healthy")


def _secrets(out: File, value: Any, unit: Unit) -> None:
    for i, secret in enumerate(unit.container.secrets):
        name = podman_secret(unit.name, f"secret-{i}")
        options = [name, "type=mount", f"target={secret.target}", f"mode={secret.mode}"]
        if secret.uid:
            options.append(f"uid={secret.uid}")
        if secret.gid:
            options.append(f"gid={secret.gid}")
        out.add("Secret", ",".join(options))
        if secret.source is not None:
            how = f"podman secret create {name} {shlex.quote(secret.source)}"
        else:
            how = f"{shlex.join(secret.command)} | podman secret create {name} -"
        out.comments.append(f"create it first: {how}")


def _tmpfs(out: File, value: Any, unit: Unit) -> None:
    for entry in value:
        out.add("Tmpfs", raw(entry))


def _ulimits(out: File, value: Any, unit: Unit) -> None:
    for key, soft, hard in value:
        out.add("Ulimit", f"{key}={soft}:{hard}")


def _security_opt(out: File, value: Any, unit: Unit) -> None:
    out.podman_args += [w for option in value for w in ("--security-opt", option)]


def _requirement(out: File, value: tuple[str, ...], unit: Unit) -> None:
    containers = unit.index.containers
    for name in value:
        if name not in containers:
            out.comments.append(f"{name}.service comes from `corral export systemd`")
        out.unit += [("Requires", f"{name}.service"), ("After", f"{name}.service")]


def _respawn(out: File, value: Any, unit: Unit) -> None:
    container = unit.container
    out.service.append(("Restart", "on-failure" if container.respawn_on == "failure" else "always"))
    out.service.append(("RestartSec", duration(round(container.respawn_delay * 1e9))))
    limit = container.respawn_limit
    out.unit += [("StartLimitBurst", str(limit.starts)),
                 ("StartLimitIntervalSec", duration(round(limit.seconds * 1e9)))]  # fmt: skip


def _one_shot(out: File, value: Any, unit: Unit) -> None:
    out.service += [("Type", "oneshot"), ("RemainAfterExit", "yes")]


def _log_file(out: File, value: str, unit: Unit) -> None:
    out.add("LogDriver", "k8s-file")
    out.add("LogOpt", raw(f"path={value}"))
    out.comments.append(f"{value} is written in Podman's k8s-file format (time, stream, line)")


def _extra(out: File, value: Any, unit: Unit) -> None:
    _, consumed = host_environment_read(unit.container)
    out.podman_args += [w for i, w in enumerate(value) if i not in consumed]


def _stop_timeout(out: File, value: Any, unit: Unit) -> None:
    out.add("StopTimeout", str(value))
    out.service.append(("TimeoutStopSec", str(value + 10)))


#: Every ``[[container]]`` field.
TABLE: Table[File] = Table(
    TARGET,
    OciContainer,
    (
        Row(
            "provision",
            "the file `NAME.container`, `ContainerName=NAME`",
            lambda o, v, u: o.add("ContainerName", u.name),
            read=lambda u: True,
        ),
        Row(
            "image",
            "`Image=` (a Dockerfile build: a comment with its `podman build`)",
            _image,
            read=lambda u: True,
        ),
        Row(
            "pull",
            "`Pull=` (not for missing, Podman's default)",
            _pull,
            read=lambda u: _pull_policy(u),
        ),
        Row("entrypoint", "`Entrypoint=`", _key("Entrypoint", raw)),
        Row("command", "`Exec=`", lambda o, v, u: o.add("Exec", command_line(list(v)))),
        Row("environment", "`Environment=`", _environment),
        Row(
            "host_environment",
            "`Secret=NAME,type=env` for each name read (created with "
            "`podman secret create`; values never written)",
            _host_environment,
        ),
        Row("env_files", "`EnvironmentFile=`", _env_files),
        Row("container_user", "`User=`, `Group=`", _user),
        Row("workdir", "`WorkingDir=`", _key("WorkingDir", raw)),
        Row("hostname", "`HostName=`", _key("HostName")),
        Row(
            "labels",
            "`Label=`",
            _pairs("Label"),
        ),
        Row(
            "network",
            "`Network=` (a declared one: `NAME.network`), `NetworkAlias=`",
            _network,
            since="5.2",
        ),
        Row("network_aliases", "`NetworkAlias=` (Podman 5.2)", with_field="network", since="5.2"),
        Row(
            "networks",
            "`Network=` each; the first's `NetworkAlias=`, `IP=`, `IP6=`",
            _networks,
            since="5.2",
        ),
        Row("ports", "`PublishPort=`", _each("PublishPort", lambda m: m.text)),
        Row("expose", "`ExposeHostPort=`", _each("ExposeHostPort")),
        Row("volumes", "`Volume=` (a declared one: `NAME.volume`)", _volumes),
        Row("tmpfs", "`Tmpfs=`", _tmpfs),
        Row(
            "secrets",
            "`Secret=NAME,type=mount,target=…` (created with `podman secret create`)",
            _secrets,
            read=lambda u: u.container.secrets or None,
        ),
        Row("read_only", "`ReadOnly=true`", _flag("ReadOnly")),
        Row(
            "health_cmd",
            "`HealthCmd=` (Podman 4.5), `HealthInterval=`…; `Notify=healthy` "
            "(5.0) when a container requires it",
            _health,
        ),
        Row("health_interval", "`HealthInterval=`", with_field="health_cmd"),
        Row("health_timeout", "`HealthTimeout=`", with_field="health_cmd"),
        Row("health_retries", "`HealthRetries=`", with_field="health_cmd"),
        Row("health_start_period", "`HealthStartPeriod=`", with_field="health_cmd"),
        Row("health_start_interval", "a warning", with_field="health_cmd"),
        Row(
            "on_unhealthy",
            '"restart": `HealthOnFailure=kill` (systemd restarts it)',
            with_field="health_cmd",
        ),
        Row("memory", "`Memory=` (Podman 5.5)", _key("Memory"), since="5.5"),
        Row("memory_reservation", "`PodmanArgs=--memory-reservation`", _args("memory_reservation")),
        Row("memory_swap", "`PodmanArgs=--memory-swap`", _args("memory_swap")),
        Row("cpus", "`PodmanArgs=--cpus`", _args("cpus")),
        Row("cpu_shares", "`PodmanArgs=--cpu-shares`", _args("cpu_shares")),
        Row("cpuset", "`PodmanArgs=--cpuset-cpus`", _args("cpuset")),
        Row("pids_limit", "`PidsLimit=`", _key("PidsLimit")),
        Row("shm_size", "`ShmSize=`", _key("ShmSize")),
        Row("oom_score_adj", "`PodmanArgs=--oom-score-adj`", _args("oom_score_adj")),
        Row("ulimits", "`Ulimit=`", _ulimits),
        Row("cap_add", "`AddCapability=`", _each("AddCapability")),
        Row("cap_drop", "`DropCapability=`", _each("DropCapability")),
        Row("security_opt", "`PodmanArgs=--security-opt`", _security_opt),
        Row("no_new_privileges", "`NoNewPrivileges=true`", _flag("NoNewPrivileges")),
        Row("privileged", "`PodmanArgs=--privileged`", _args("privileged")),
        Row("init", "`RunInit=true`", _flag("RunInit")),
        Row("devices", "`AddDevice=`", _each("AddDevice")),
        Row(
            "sysctls",
            "`Sysctl=`",
            _pairs("Sysctl"),
        ),
        Row("group_add", "`GroupAdd=` (Podman 5.1)", _each("GroupAdd"), since="5.1"),
        Row("userns", "`UserNS=`", _key("UserNS")),
        Row("dns", "`DNS=`", _each("DNS")),
        Row("dns_search", "`DNSSearch=`", _each("DNSSearch")),
        Row("dns_options", "`DNSOption=`", _each("DNSOption")),
        Row("extra_hosts", "`AddHost=` (Podman 5.3)", _each("AddHost"), since="5.3"),
        Row("domainname", "`PodmanArgs=--domainname`", _args("domainname")),
        Row("mac_address", "`PodmanArgs=--mac-address`", _args("mac_address")),
        Row("platform", "`PodmanArgs=--platform`", _args("platform")),
        Row("stdin_open", "`PodmanArgs=--interactive`", _args("stdin_open")),
        Row("tty", "`PodmanArgs=--tty`", _args("tty")),
        Row("stop_signal", "`StopSignal=` (Podman 5.2)", _key("StopSignal"), since="5.2"),
        Row("stop_timeout", "`StopTimeout=`, `TimeoutStopSec=` T + 10", _stop_timeout),
        Row("extra_arguments", "`PodmanArgs=` (`--env NAME`: the Secret)", _extra),
        Row("requirement", "`[Unit] Requires=`, `After=` NAME.service", _requirement),
        Row(
            "respawn",
            "`[Service] Restart=always` (`on-failure`), `RestartSec=`, "
            "`StartLimitBurst=`, `StartLimitIntervalSec=`",
            _respawn,
        ),
        Row("respawn_on", "`Restart=on-failure`", with_field="respawn"),
        Row("respawn_limit", "`StartLimitBurst=`, `StartLimitIntervalSec=`", with_field="respawn"),
        Row("respawn_delay", "`RestartSec=`", with_field="respawn"),
        Row("one_shot", "`[Service] Type=oneshot`, `RemainAfterExit=yes`", _one_shot),
        Row(
            "log_file",
            "`LogDriver=k8s-file`, `LogOpt=path=FILE` (Podman 5.2)",
            _log_file,
            since="5.2",
        ),
        Row(
            "auto_start", "`[Install] WantedBy=default.target` only when true", lambda o, v, u: None
        ),
        Row("actions", "a warning", reason="declared actions are corral's own (`corral action`)"),
        Row(
            "user",
            "a warning",
            reason="the file's directory says whose Podman runs it "
            "(/etc/containers/systemd, or ~/.config/containers/systemd)",
        ),
        Row("group", "a warning", reason="the host group of the engine CLI: no Quadlet key"),
    ),
    title="`NAME.container`",
)


def _ipam(key: str) -> Callable[[File, Any, Unit], None]:
    return lambda out, value, unit: out.add(key, value)


NETWORK_TABLE: Table[File] = Table(
    TARGET,
    Network,
    (
        Row(
            "name",
            "the file `NAME.network`, `NetworkName=NAME`",
            lambda o, v, u: o.add("NetworkName", v),
            read=_name,
        ),
        Row("driver", "`Driver=`", _key("Driver")),
        Row("subnet", "`Subnet=`", _ipam("Subnet")),
        Row("gateway", "`Gateway=`", _ipam("Gateway")),
        Row("ip_range", "`IPRange=`", _ipam("IPRange")),
        Row("ipv6", "`IPv6=true`", _flag("IPv6")),
        Row("internal", "`Internal=true`", _flag("Internal")),
        Row(
            "labels",
            "`Label=`",
            _pairs("Label"),
        ),
        Row("extra_arguments", "`PodmanArgs=`", lambda o, v, u: o.podman_args.extend(v)),
    ),
    title="`NAME.network`",
)

VOLUME_TABLE: Table[File] = Table(
    TARGET,
    Volume,
    (
        Row(
            "name",
            "the file `NAME.volume`, `VolumeName=NAME`",
            lambda o, v, u: o.add("VolumeName", v),
            read=_name,
        ),
        Row("driver", "`Driver=`", _key("Driver")),
        Row(
            "labels",
            "`Label=`",
            _pairs("Label"),
        ),
        Row("extra_arguments", "`PodmanArgs=`", lambda o, v, u: o.podman_args.extend(v)),
    ),
    title="`NAME.volume`",
)


def render(config: Config, settings: Settings) -> Exported:
    exported = Exported(TARGET)
    for unit in units(config, TARGET, settings):
        record = unit.record
        if isinstance(record, OciContainer):
            out = fill(TABLE, File("Container"), unit)
            out.unit.insert(0, ("Description", f"{unit.name} (from corral)"))
            if record.auto_start:
                out.install.append(("WantedBy", "default.target"))
            out.comments[:0] = unit.comments
            exported.files[f"{unit.name}.container"] = out.text()
        elif isinstance(record, Network):
            out = fill(NETWORK_TABLE, File("Network"), unit)
            out.comments[:0] = unit.comments
            exported.files[f"{record.name}.network"] = out.text()
        elif isinstance(record, Volume):
            out = fill(VOLUME_TABLE, File("Volume"), unit)
            out.comments[:0] = unit.comments
            exported.files[f"{record.name}.volume"] = out.text()
        else:
            what = "a process" if unit.declared.kind == "process" else f"the {unit.declared.kind}"
            unit.warn(f"{what} service has no Quadlet file (`corral export systemd` writes its "
                      "unit)", unit.declared.kind)  # fmt: skip
        exported.warnings += unit.warnings
    return exported


ALL_TABLES: tuple[Table[File], ...] = (TABLE, NETWORK_TABLE, VOLUME_TABLE)


def doc_notes() -> list[str]:
    """For docs/exports.md: each key the exporter writes that needs a Podman newer
    than 5.0, with that release (from ``quadlet_keys``)."""
    import re

    from corral.render.export.quadlet_keys import KEYS, VALUES

    sections = {OciContainer: "Container", Network: "Network", Volume: "Volume"}
    newer: dict[str, str] = {}
    for table in ALL_TABLES:
        section = sections[table.record]
        for row in table.rows:
            for key in re.findall(r"`(\w+)=", row.says):
                since = KEYS[section].get(key, "5.0")
                if tuple(map(int, since.split("."))) > (5, 0):
                    newer[key] = since
    values = ", ".join(f"`{key}={value}` needs Podman {since}"
                       for (_, key, value), since in VALUES.items())  # fmt: skip
    listed = ", ".join(f"`{k}=` (Podman {v})" for k, v in sorted(newer.items()))
    return [
        "Keys newer than Podman 5.0 that the export may write (a file using one needs that "
        f"Podman or later): {listed}. {values}; `HealthCmd=` needs 4.5. The keys and their "
        "releases are read from podman-systemd.unit(5) (`quadlet_keys.py`).",
        "",
    ]
