"""``corral export systemd [--user]``: one unit per service, in the shape NixOS's
``virtualisation.oci-containers`` writes, and a unit for corral's own daemon. Pure.

A container's unit runs the seed's line in the foreground: ``ExecStartPre=-
RUNTIME rm -f NAME``, ``ExecStart=RUNTIME run --rm --name NAME OPTIONS… IMAGE
COMMAND…`` (the run options from the container spec, every one of them),
``ExecStop=RUNTIME stop -t T NAME``. Requirements are ``Requires=``/``After=``;
respawn is ``Restart=`` with ``StartLimitBurst=``/``StartLimitIntervalSec=``
from its limit. host_environment reaches the engine CLI through
``EnvironmentFile=`` (``%E/corral/NAME.env``: /etc, or ~/.config for user
units), whose template ``NAME.env.example`` lists the names with no values.
Processes, networks, volumes and the engine daemons corral runs get units too.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from corral.config import (
    Config,
    Containerd,
    DockerDaemon,
    Network,
    OciContainer,
    PodmanService,
    Process,
    Volume,
)
from corral.config._base import Record
from corral.render.commands import (
    containerd_command,
    dockerd_command,
    network_create_command,
    podman_service_command,
    volume_create_command,
)
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
from corral.render.spec import RUN_OPTIONS, duration

TARGET = "systemd"


class UnitFile:
    """A unit's sections as ordered (key, value) lines."""

    def __init__(self) -> None:
        self.unit: list[tuple[str, str]] = []
        self.service: list[tuple[str, str]] = []
        self.install: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.run_words: list[str] = []
        self.env_names: list[str] = []

    def text(self) -> str:
        head = [f"# {c}" for c in self.comments]
        sections = []
        for title, entries in (
            ("Unit", self.unit),
            ("Service", self.service),
            ("Install", self.install),
        ):
            if entries:
                sections.append("\n".join([f"[{title}]", *(f"{k}={v}" for k, v in entries)]))
        return "\n".join(head) + ("\n" if head else "") + "\n\n".join(sections) + "\n"


def word(text: str) -> str:
    """One argv word as systemd's command lines take it: ``%`` and ``$`` doubled
    (no specifier, no variable), quoted when it holds a space, a quote, a
    backslash or a semicolon, or is empty."""
    text = text.replace("%", "%%").replace("$", "$$")
    if text and not any(c in text for c in " \t\n\"'\\;"):
        return text
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def command_line(argv: list[str]) -> str:
    return " ".join(word(w) for w in argv)


def unit_name(runtime: str, name: str) -> str:
    """A container's unit: ``RUNTIME-NAME.service`` (NixOS's), the name as is
    when it already starts with the runtime."""
    stem = name if name.startswith(f"{runtime}-") else f"{runtime}-{name}"
    return f"{stem}.service"


def _names(config: Config, settings: Settings) -> dict[str, str]:
    """Service name → its unit's name."""
    return _names_of(config, {u.name: u for u in units(config, TARGET, settings)})


def _names_of(config: Config, all_units: dict[str, Unit]) -> dict[str, str]:
    out: dict[str, str] = {}
    for unit in all_units.values():
        kind = unit.declared.kind
        if kind == "container":
            out[unit.name] = unit_name(config.runtime, unit.name)
        elif kind in ("dockerd", "containerd", "podman"):
            out[unit.name] = f"corral-{unit.name}.service"
        else:
            out[unit.name] = f"{unit.name}.service"
    return out


def engine_unit(config: Config, settings: Settings) -> str | None:
    """The unit the engine CLI needs running: corral's dockerd unit, else the
    distribution's docker.service; none for Podman (daemonless)."""
    if config.runtime == "podman":
        return None
    if config.docker is not None:
        return "corral-dockerd.service"
    return "docker.service"


def _runtime(settings: Settings, config: Config) -> str:
    return settings.runtime_path or f"/usr/bin/{config.runtime}"


# -- container rows -------------------------------------------------------------


def _noop(out: UnitFile, value: Any, unit: Unit) -> None:
    """Said by the run line, which reads the spec."""


def _secrets(out: UnitFile, value: Any, unit: Unit) -> None:
    words: list[str] = []
    for i, secret in enumerate(unit.container.secrets):
        if secret.source is None:
            unit.warn(f"secret {i} ({secret.target}) is a command's output: systemd units "
                      "bind files; write it to a file and declare `source`")  # fmt: skip
            continue
        words += ["--mount", f"type=bind,source={secret.source},target={secret.target},readonly"]
        if secret.uid or secret.gid or secret.mode != "0400":
            unit.warn(f"secret {i} ({secret.target}): the bound file keeps its host owner and mode")
    out.run_words += words


def _host_environment(out: UnitFile, value: Any, unit: Unit) -> None:
    read, _ = host_environment_read(unit.container)
    names = hidden_names(unit.container)
    out.env_names = names
    out.service.append(("EnvironmentFile", f"%E/corral/{unit.name}.env"))
    unread = [n for n in names if n not in read]
    if unread:
        out.comments.append(
            f"{', '.join(unread)} reach the engine CLI's environment only, as in corral"
        )


def _requirement(out: UnitFile, value: tuple[str, ...], unit: Unit) -> None:
    names = _index_names(unit)
    health = unit.index.health
    for name in value:
        out.unit.append(("Requires", names[name]))
        out.unit.append(("After", names[name]))
        if name in health:
            unit.warn(f"{name} has a health check: its unit is up once it runs, not once "
                      "healthy (Quadlet's Notify=healthy can say it)")  # fmt: skip


def _index_names(unit: Unit) -> dict[str, str]:
    """Service name → unit name, for the whole export (computed once)."""
    names: dict[str, str] | None = unit.index.memo.get("systemd-names")
    if names is None:
        names = unit.index.memo["systemd-names"] = _names_of(unit.config, unit.index.units)
    return names


def _required(unit: Unit) -> tuple[str, ...] | None:
    """What a unit requires: the declared requirements and the networks and
    volumes it uses (the engine's unit is added on its own)."""
    engines = ("dockerd", "containerd", "podman")
    return tuple(r for r in unit.declared.requirement if r not in engines) or None


def _respawn(out: UnitFile, value: Any, unit: Unit) -> None:
    record = unit.record
    on: str = getattr(record, "respawn_on", "exit")
    out.service.append(("Restart", "on-failure" if on == "failure" else "always"))
    delay: float = getattr(record, "respawn_delay", 0.1)
    out.service.append(("RestartSec", duration(round(delay * 1e9))))
    limit = getattr(record, "respawn_limit")  # noqa: B009
    out.unit.append(("StartLimitBurst", str(limit.starts)))
    out.unit.append(("StartLimitIntervalSec", duration(round(limit.seconds * 1e9))))


def _log_file(out: UnitFile, value: str, unit: Unit) -> None:
    out.service += [("StandardOutput", f"append:{value}"), ("StandardError", f"append:{value}")]


def _account(key: str) -> Callable[[UnitFile, Any, Unit], None]:
    def put(out: UnitFile, value: Any, unit: Unit) -> None:
        if unit.config.runtime == "podman" or unit.settings.user:
            unit.warn("a rootless engine runs as the unit's own user")
        else:
            out.service.append((key, value))

    return put


def _auto_start(out: UnitFile, value: Any, unit: Unit) -> None:
    out.comments.append("auto_start = false: no [Install] section (start it by hand)")


def _run_option_rows() -> tuple[Row[UnitFile], ...]:
    rows: list[Row[UnitFile]] = []
    for option in RUN_OPTIONS:
        if option.name == "secrets":
            rows.append(Row("secrets", "`ExecStart=` `--mount type=bind,source=FILE,…,readonly` "
                            "(the secret's source file)", _secrets,
                            read=lambda u: u.container.secrets or None))  # fmt: skip
        else:
            rows.append(Row(option.name, f"`ExecStart=` `{option.flag}`", _noop))
    return tuple(rows)


TABLE: Table[UnitFile] = Table(
    TARGET,
    OciContainer,
    (
        Row("provision", "the unit `RUNTIME-NAME.service`; `--name NAME`", _noop),
        Row(
            "image",
            "`ExecStart=` IMAGE (a corral-built image by `--image FROM=TO`)",
            _noop,
            read=lambda u: True,
        ),
        Row("command", "`ExecStart=` COMMAND", _noop),
        *_run_option_rows(),
        Row("health_interval", "`--health-interval`", with_field="health_cmd"),
        Row("health_timeout", "`--health-timeout`", with_field="health_cmd"),
        Row("health_retries", "`--health-retries`", with_field="health_cmd"),
        Row("health_start_period", "`--health-start-period`", with_field="health_cmd"),
        Row(
            "health_start_interval",
            "a warning (the engines here have none)",
            reason="the run line's engine (dockerd 20.10, Podman) has no --health-start-interval",
        ),
        Row("extra_arguments", "`ExecStart=` after the options, as corral runs them", _noop),
        Row(
            "host_environment",
            "`EnvironmentFile=%E/corral/NAME.env` (names in NAME.env.example; values never)",
            _host_environment,
        ),
        Row(
            "pull",
            "`ExecStartPre=RUNTIME pull IMAGE` for always/newer",
            lambda o, v, u: None,
            read=lambda u: None,
        ),
        Row(
            "requirement",
            "`Requires=` and `After=` the required units (networks and volumes too)",
            _requirement,
            read=lambda u: _required(u),
        ),
        Row(
            "respawn",
            '`Restart=always` (`on-failure` for respawn_on = "failure"), `RestartSec=`',
            _respawn,
        ),
        Row("respawn_on", "`Restart=on-failure`", with_field="respawn"),
        Row("respawn_limit", "`StartLimitBurst=`, `StartLimitIntervalSec=`", with_field="respawn"),
        Row("respawn_delay", "`RestartSec=`", with_field="respawn"),
        Row("one_shot", "`Type=oneshot`, `RemainAfterExit=yes`", _noop),
        Row(
            "stop_timeout",
            "`ExecStop=RUNTIME stop -t T`, `TimeoutStopSec=` T + 10",
            _noop,
            read=lambda u: True,
        ),
        Row("log_file", "`StandardOutput=append:FILE`, `StandardError=append:FILE`", _log_file),
        Row("auto_start", "`[Install] WantedBy=` only when true", _auto_start),
        Row(
            "on_unhealthy", "a warning", reason="systemd does not watch the engine's health status"
        ),
        Row("actions", "a warning", reason="declared actions are corral's own (`corral action`)"),
        Row("user", "`User=` (docker, system units)", _account("User")),
        Row("group", "`Group=` (docker, system units)", _account("Group")),
    ),
    title="a unit `RUNTIME-NAME.service` running `RUNTIME run --rm` in the foreground",
)


def _pull_lines(unit: Unit, runtime: str) -> list[tuple[str, str]]:
    policy = unit.container.pull or unit.config.pull
    if policy in ("always", "newer"):
        return [("ExecStartPre", command_line([runtime, "pull", image_of(unit)]))]
    return []


def _run_argv(unit: Unit, out: UnitFile, runtime: str) -> list[str]:
    spec = unit.spec
    assert spec is not None
    words: list[str] = []
    for option, value in spec.options:
        if option.name == "secrets":
            words += out.run_words
        elif option.name == "health_cmd" and unit.config.runtime == "docker" and value.exec_form:
            # docker's CLI runs every --health-cmd through a shell: the exec form's
            # argv goes shell-quoted, which runs the same program with the same words.
            unit.warn(
                "docker's --health-cmd is shell form only: the exec form is written "
                "shell-quoted (the image needs /bin/sh)",
                "health_cmd",
            )
            shell = replace(value, test=("CMD-SHELL", shlex.join(value.test[1:])))
            words += option.words(option.flag, shell)
        else:
            words += option.words(option.flag, value)
    return [runtime, "run", "--rm", "--name", unit.name, *words, *spec.extra_arguments,
            image_of(unit), *spec.command]  # fmt: skip


def _container_unit(unit: Unit, names: dict[str, str]) -> UnitFile:
    config, settings = unit.config, unit.settings
    runtime = _runtime(settings, config)
    container = unit.container
    out = UnitFile()
    out.unit.append(("Description", f"{unit.name} ({config.runtime} container, from corral)"))
    engine = engine_unit(config, settings)
    if engine is not None and not settings.user:
        out.unit += [("Requires", engine), ("After", engine)]
    out.unit.append(("After", "network-online.target"))
    out.unit.append(("Wants", "network-online.target"))
    fill(TABLE, out, unit)
    built = corral_built(unit)
    if built is not None and settings.images.get(unit.name) is None:
        how = "`docker build`" if built.build is not None else f"`corral image load {unit.name}`"
        unit.note(f"the image {image_of(unit)} is built by corral: make it present with {how}")
    timeout = round(container.stop_timeout)
    service: list[tuple[str, str]] = []
    if container.one_shot:
        service += [("Type", "oneshot"), ("RemainAfterExit", "yes")]
    else:
        service.append(("Type", "simple"))
    service += [x for x in out.service if x[0] == "EnvironmentFile"]
    service += [x for x in out.service if x[0] in ("User", "Group")]
    service.append(("ExecStartPre", "-" + command_line([runtime, "rm", "-f", unit.name])))
    service += _pull_lines(unit, runtime)
    service.append(("ExecStart", command_line(_run_argv(unit, out, runtime))))
    service.append(("ExecStop", command_line([runtime, "stop", "-t", str(timeout), unit.name])))
    service.append(("ExecStopPost", "-" + command_line([runtime, "rm", "-f", unit.name])))
    service.append(("TimeoutStartSec", "0"))  # a first pull may take long
    service.append(("TimeoutStopSec", str(timeout + 10)))
    service += [x for x in out.service if x[0] not in ("EnvironmentFile", "User", "Group")]
    if not container.respawn:
        service.append(("Restart", "no"))
    out.service = service
    if container.auto_start:
        out.install.append(("WantedBy", _wanted_by(settings)))
    out.comments[:0] = unit.comments
    return out


def _wanted_by(settings: Settings) -> str:
    return "default.target" if settings.user else "multi-user.target"


# -- processes ------------------------------------------------------------------


def _process_put(key: str, convert: Callable[[Any], str] = str
                 ) -> Callable[[UnitFile, Any, Unit], None]:  # fmt: skip
    def put(out: UnitFile, value: Any, unit: Unit) -> None:
        out.service.append((key, convert(value)))

    return put


def _process_env(out: UnitFile, value: Any, unit: Unit) -> None:
    for entry in value:
        out.service.append(("Environment", word(entry)))


def _pid_file(out: UnitFile, value: str, unit: Unit) -> None:
    out.service += [("Type", "forking"), ("PIDFile", value)]


PROCESS_TABLE: Table[UnitFile] = Table(
    TARGET,
    Process,
    (
        Row("name", "the unit `NAME.service`", _noop),
        Row("command", "`ExecStart=`", _noop),
        Row("environment", "`Environment=`", _process_env),
        Row("user", "`User=`", _process_put("User")),
        Row("group", "`Group=`", _process_put("Group")),
        Row("working_directory", "`WorkingDirectory=`", _process_put("WorkingDirectory")),
        Row("log_file", "`StandardOutput=append:FILE`, `StandardError=append:FILE`", _log_file),
        Row("requirement", "`Requires=` and `After=`", _requirement),
        Row("auto_start", "`[Install] WantedBy=` only when true", _auto_start),
        Row(
            "respawn",
            '`Restart=always` (`on-failure` for respawn_on = "failure"), `RestartSec=`, '
            "`StartLimitBurst=`, `StartLimitIntervalSec=`",
            _respawn,
        ),
        Row("respawn_on", "`Restart=on-failure`", with_field="respawn"),
        Row("respawn_limit", "`StartLimitBurst=`, `StartLimitIntervalSec=`", with_field="respawn"),
        Row("respawn_delay", "`RestartSec=`", with_field="respawn"),
        Row("one_shot", "`Type=oneshot`, `RemainAfterExit=yes`", _noop),
        Row("pid_file", "`Type=forking`, `PIDFile=`", _pid_file),
        Row("pid_file_timeout", "`TimeoutStartSec=`", with_field="pid_file"),
        Row(
            "ready_socket",
            "a warning",
            reason="systemd has no wait for a socket to accept "
            "(socket activation is the unit's own)",
        ),
        Row("stop_signal", "`KillSignal=`", _process_put("KillSignal")),
        Row("stop_timeout", "`TimeoutStopSec=`", _noop, read=lambda u: True),
        Row("actions", "a warning", reason="declared actions are corral's own (`corral action`)"),
    ),
    title="a unit `NAME.service` running the command",
)


def _process_unit(unit: Unit) -> UnitFile:
    process = unit.record
    assert isinstance(process, Process)
    out = UnitFile()
    out.unit.append(("Description", f"{unit.name} (process, from corral)"))
    fill(PROCESS_TABLE, out, unit)
    service: list[tuple[str, str]] = []
    if process.one_shot:
        service += [("Type", "oneshot"), ("RemainAfterExit", "yes")]
    elif process.pid_file is None:
        service.append(("Type", "simple"))
    service.append(("ExecStart", command_line(list(process.command))))
    if process.pid_file is not None:
        service.append(("TimeoutStartSec", duration(round(process.pid_file_timeout * 1e9))))
    service.append(("TimeoutStopSec", duration(round(process.stop_timeout * 1e9))))
    service += out.service
    if not process.respawn:
        service.append(("Restart", "no"))
    out.service = service
    if process.auto_start:
        out.install.append(("WantedBy", _wanted_by(unit.settings)))
    out.comments[:0] = unit.comments
    return out


# -- networks, volumes, engine daemons -------------------------------------------


def _object_rows(record: type[Record], what: str) -> tuple[Row[UnitFile], ...]:
    return tuple(
        Row(name, f"`{what} create` in `ExecStart=`", _noop) for name in record.model_fields
    )


NETWORK_TABLE: Table[UnitFile] = Table(
    TARGET, Network, _object_rows(Network, "network"), title="a oneshot unit that creates it"
)
VOLUME_TABLE: Table[UnitFile] = Table(
    TARGET, Volume, _object_rows(Volume, "volume"), title="a oneshot unit that creates it"
)


def _object_unit(unit: Unit, argv: list[str], what: str, name: str) -> UnitFile:
    config, settings = unit.config, unit.settings
    runtime = _runtime(settings, config)
    argv = [runtime, *argv[1:]]
    out = UnitFile()
    out.unit.append(("Description", f"{config.runtime} {what} {name} (from corral)"))
    engine = engine_unit(config, settings)
    if engine is not None and not settings.user:
        out.unit += [("Requires", engine), ("After", engine)]
    check = shlex.join([runtime, what, "inspect", name])
    script = f"{check} >/dev/null 2>&1 || exec {shlex.join(argv)}"
    out.service += [("Type", "oneshot"), ("RemainAfterExit", "yes"),
                    ("ExecStart", command_line(["/bin/sh", "-c", script]))]  # fmt: skip
    out.install.append(("WantedBy", _wanted_by(settings)))
    return out


def _daemon_unit(unit: Unit) -> UnitFile:
    record = unit.record
    config = unit.config
    out = UnitFile()
    out.unit.append(("Description", f"{unit.name} (engine daemon, from corral)"))
    if isinstance(record, DockerDaemon):
        argv = dockerd_command(record, config.containerd)
        if config.containerd is not None:
            out.unit += [("Requires", "corral-containerd.service"),
                         ("After", "corral-containerd.service")]  # fmt: skip
    elif isinstance(record, Containerd):
        argv = containerd_command(record)
    else:
        assert isinstance(record, PodmanService)
        argv = podman_service_command(record)
    out.service += [("Type", "simple"), ("ExecStart", command_line(argv)),
                    ("Restart", "always"), ("KillMode", "process")]  # fmt: skip
    out.install.append(("WantedBy", _wanted_by(unit.settings)))
    return out


def daemon_unit(config: Config, settings: Settings) -> str:
    """corral's own supervisor as a unit (instead of the per-service units)."""
    cli = [settings.corral_path, "-c", settings.config_path]
    lines = [
        "# corral's own supervisor: it runs every service above itself. Install this unit",
        "# OR the per-service units, not both.",
        "[Unit]",
        "Description=corral supervisor (containers and processes as services)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={command_line([*cli, 'daemon', '--up'])}",
        f"ExecReload={command_line([*cli, 'reload'])}",
        "KillMode=mixed",
        "TimeoutStopSec=120",
        "Restart=on-failure",
        "RuntimeDirectory=corral",
        "RuntimeDirectoryMode=0700",
        "StateDirectory=corral",
        "",
        "[Install]",
        f"WantedBy={_wanted_by(settings)}",
    ]
    return "\n".join(lines) + "\n"


def render(config: Config, settings: Settings) -> Exported:
    exported = Exported(TARGET)
    names = _names(config, settings)
    for unit in units(config, TARGET, settings):
        record = unit.record
        if isinstance(record, OciContainer):
            made = _container_unit(unit, names)
            if made.env_names:
                exported.files[names[unit.name].removesuffix(".service") + ".env.example"] = (
                    f"# {unit.name}'s host_environment: install as /etc/corral/{unit.name}.env "
                    f"(~/.config/corral/ for user units), mode 0600, with the values\n"
                    + "".join(f"{n}=\n" for n in made.env_names)
                )
        elif isinstance(record, Process):
            made = _process_unit(unit)
        elif isinstance(record, Network):
            fill(NETWORK_TABLE, UnitFile(), unit)
            argv = network_create_command(record, config.runtime)
            made = _object_unit(unit, argv, "network", record.name)
        elif isinstance(record, Volume):
            fill(VOLUME_TABLE, UnitFile(), unit)
            argv = volume_create_command(record, config.runtime)
            made = _object_unit(unit, argv, "volume", record.name)
        else:
            made = _daemon_unit(unit)
            if settings.user:
                unit.warn("an engine daemon is a system service", unit.declared.kind)
                made.comments.append(f"warning: {unit.name}: an engine daemon is a system unit")
        exported.files[names[unit.name]] = made.text()
        exported.warnings += unit.warnings
    exported.files["corral.service"] = daemon_unit(config, settings)
    return exported


ALL_TABLES: tuple[Table[UnitFile], ...] = (TABLE, PROCESS_TABLE, NETWORK_TABLE, VOLUME_TABLE)
