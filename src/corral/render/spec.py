"""The container spec: a ``[[container]]`` parsed once, between the records and
the engines (newer Guix's ``oci-container-invocation``). Pure: no I/O.

``container_spec`` reads every run option of a declaration once — port
mappings, mounts, environment, labels, health, stop — into a ``ContainerSpec``.
Both renderings read the spec alone, through one table (``RUN_OPTIONS``) that
says, for each option, the record field it comes from, its CLI flag and its
Engine API key: ``render.container.create_argv`` (the CLI's words) and
``render.container.create_document`` (the API's create document). Adding a
run option is one record field and one row here.

corral's own labels (``corral.service``…) are merged over the declared ones,
so they always win; ``corral check`` refuses declared labels under ``corral.``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from corral.config import OciContainer
from corral.config.container import NetworkAttachment
from corral.config.mounts import Mount, parse_mount
from corral.config.ports import PortMapping, parse_port
from corral.config.run_options import parse_device, parse_expose, parse_tmpfs
from corral.config.services import image_reference
from corral.runtimes import Runtime

#: The engines' own default stop timeout; rendered only when it differs.
ENGINE_STOP_TIMEOUT = 10


@dataclass(frozen=True)
class Health:
    """A health check, its durations in nanoseconds (both renderings derive from these)."""

    test: tuple[str, ...]
    interval: int
    timeout: int
    retries: int
    start_period: int
    #: Between checks during start_period; ``None``: the engine's default (interval).
    start_interval: int | None = None

    @property
    def exec_form(self) -> bool:
        """Whether the check runs as an argv with no shell (Docker's ``CMD``)."""
        return self.test[0] == "CMD"

    @property
    def cli_command(self) -> str:
        """``--health-cmd``'s value: the shell command, or the exec form as the JSON
        array Podman's CLI takes (``["CMD", "ARG"…]``)."""
        return json.dumps(list(self.test)) if self.exec_form else self.test[1]


def nanoseconds(seconds: float) -> int:
    return round(seconds * 1_000_000_000)


def duration(ns: int) -> str:
    """Nanoseconds as the engines' CLIs take a duration (Go's syntax), exactly:
    ``10s``, ``500ms``, ``2.5s``."""
    whole, rest = divmod(ns, 1_000_000_000)
    if rest == 0:
        return f"{whole}s"
    if whole == 0 and rest % 1_000_000 == 0:
        return f"{rest // 1_000_000}ms"
    return f"{whole}.{rest:09d}".rstrip("0") + "s"


def cpus_text(ns: int) -> str:
    """A CPU count held in billionths, as the CLI's ``--cpus`` takes it: ``2``, ``1.5``."""
    whole, rest = divmod(ns, 1_000_000_000)
    return str(whole) if rest == 0 else f"{whole}.{rest:09d}".rstrip("0")


#: What ``no_new_privileges`` says in ``--security-opt`` and ``HostConfig.SecurityOpt``.
NO_NEW_PRIVILEGES = "no-new-privileges:true"


# -- the table ---------------------------------------------------------------

#: A value's place in the API's create document: ``Labels``, ``HostConfig.Binds``;
#: or, spelled ``?name``, a query parameter of the create (``?platform``).
ApiKey = str
QUERY = "?"


@dataclass(frozen=True)
class RunOption:
    """One run option: how it is read from a declaration, and how each rendering says it.

    ``read`` gives the parsed value, or None when the declaration leaves it unset;
    ``words`` the CLI's words for a set value; ``document`` the API document's
    entries for it (``{"HostConfig.Binds": [...]}``)."""

    name: str
    flag: str
    read: Callable[[OciContainer], Any]
    words: Callable[[str, Any], list[str]]
    document: Callable[[Any], Mapping[ApiKey, Any]]
    #: False for a switch: the flag alone, no value word.
    takes_value: bool = True


def _attribute(name: str) -> Callable[[OciContainer], Any]:
    return lambda container: getattr(container, name)


def _nonempty(name: str) -> Callable[[OciContainer], Any]:
    return lambda container: getattr(container, name) or None


def text(name: str, flag: str, key: ApiKey) -> RunOption:
    """A string option: ``--flag VALUE``; ``key: VALUE``."""
    return RunOption(name, flag, _attribute(name), lambda f, v: [f, v], lambda v: {key: v})


def number(name: str, flag: str, key: ApiKey) -> RunOption:
    """An integer option (sizes are bytes): ``--flag N``; ``key: N``."""
    return RunOption(name, flag, _attribute(name), lambda f, v: [f, str(v)], lambda v: {key: v})


def table(name: str, flag: str, key: ApiKey) -> RunOption:
    """A table option: ``--flag K=V`` per entry; ``key: {K: V, ...}``."""
    return RunOption(
        name,
        flag,
        _nonempty(name),
        lambda f, v: [w for k, x in v.items() for w in (f, f"{k}={x}")],
        lambda v: {key: dict(v)},
    )


def switch(name: str, flag: str, key: ApiKey) -> RunOption:
    """A boolean option: ``--flag`` when true; ``key: true``."""
    return RunOption(
        name,
        flag,
        lambda c: getattr(c, name) or None,
        lambda f, v: [f],
        lambda v: {key: True},
        takes_value=False,
    )


def each(
    name: str,
    flag: str,
    key: ApiKey,
    read: Callable[[OciContainer], Any] | None = None,
    cli: Callable[[Any], str] = str,
    api: Callable[[Any], Any] = str,
) -> RunOption:
    """A repeated option: ``--flag V`` per member; ``key: [V, ...]``."""

    def words(flag: str, values: Iterable[Any]) -> list[str]:
        return [word for value in values for word in (flag, cli(value))]

    return RunOption(
        name,
        flag,
        read or _nonempty(name),
        words,
        lambda values: {key: [api(v) for v in values]},
    )


def _environment(container: OciContainer) -> tuple[tuple[str, str | None], ...] | None:
    pairs = []
    for entry in container.environment:
        key, sep, value = entry.partition("=")
        pairs.append((key, value if sep else None))
    return tuple(pairs) or None


def _env_text(pair: tuple[str, str | None]) -> str:
    key, value = pair
    return key if value is None else f"{key}={value}"


def _ports(container: OciContainer) -> tuple[PortMapping, ...] | None:
    return tuple(parse_port(spec) for spec in container.ports) or None


def _port_document(mappings: Iterable[PortMapping]) -> dict[ApiKey, Any]:
    exposed: dict[str, dict[str, str]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for mapping in mappings:
        for host_port, port in mapping.bindings():
            key = f"{port}/{mapping.protocol}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": mapping.address, "HostPort": host_port})
    return {"ExposedPorts": exposed, "HostConfig.PortBindings": bindings}


def _expose_document(exposed: Iterable[str]) -> dict[ApiKey, Any]:
    ports: dict[str, dict[str, str]] = {}
    for entry in exposed:
        low, high, protocol = parse_expose(entry)
        ports.update((f"{port}/{protocol}", {}) for port in range(low, high + 1))
    return {"ExposedPorts": ports}


def _device_document(entry: str) -> dict[str, str]:
    host, container, permissions = parse_device(entry)
    return {"PathOnHost": host, "PathInContainer": container, "CgroupPermissions": permissions}


#: Network modes that are not a network an endpoint can be configured on.
_NOT_A_NETWORK = ("host", "none", "private", "container:", "ns:", "slirp4netns", "pasta")


def _mac_document(value: tuple[str, str | None]) -> dict[ApiKey, Any]:
    """``MacAddress`` (dockerd 20.10 reads it there) and, on a declared network,
    that network's endpoint too (Podman 4.3's API reads it only there)."""
    mac, network = value
    document: dict[ApiKey, Any] = {"MacAddress": mac}
    if network is not None and not network.startswith(_NOT_A_NETWORK):
        document["NetworkingConfig.EndpointsConfig"] = {network: {"MacAddress": mac}}
    return document


def _mounts(container: OciContainer) -> tuple[Mount, ...] | None:
    return tuple(parse_mount(spec) for spec in container.volumes) or None


def _mount_document(mounts: Iterable[Mount]) -> dict[ApiKey, Any]:
    binds = [m.text for m in mounts if m.source is not None]
    anonymous: dict[str, dict[str, str]] = {m.target: {} for m in mounts if m.source is None}
    document: dict[ApiKey, Any] = {}
    if binds:
        document["HostConfig.Binds"] = binds
    if anonymous:
        document["Volumes"] = anonymous
    return document


def _stop_timeout(container: OciContainer) -> int | None:
    seconds = round(container.stop_timeout)
    return None if seconds == ENGINE_STOP_TIMEOUT else seconds


def _health(container: OciContainer) -> Health | None:
    if container.health_cmd is None:
        return None
    command = container.health_cmd
    return Health(
        test=("CMD-SHELL", command) if isinstance(command, str) else ("CMD", *command),
        interval=nanoseconds(container.health_interval),
        timeout=nanoseconds(container.health_timeout),
        retries=container.health_retries,
        start_period=nanoseconds(container.health_start_period),
        start_interval=None
        if container.health_start_interval is None
        else nanoseconds(container.health_start_interval),
    )


def _health_words(flag: str, health: Health) -> list[str]:
    return [
        flag, health.cli_command,
        "--health-interval", duration(health.interval),
        "--health-timeout", duration(health.timeout),
        "--health-retries", str(health.retries),
        "--health-start-period", duration(health.start_period),
    ]  # fmt: skip


def _health_document(health: Health) -> dict[ApiKey, Any]:
    return {
        "Healthcheck": {
            "Test": list(health.test),
            "Interval": health.interval,
            "Timeout": health.timeout,
            "Retries": health.retries,
            "StartPeriod": health.start_period,
        }
    }


def endpoint_config(attachment: NetworkAttachment) -> dict[str, Any]:
    """A network attachment as the API's ``EndpointConfig`` (create and connect)."""
    config: dict[str, Any] = {}
    if attachment.aliases:
        config["Aliases"] = list(attachment.aliases)
    addresses = {"IPv4Address": attachment.ipv4_address, "IPv6Address": attachment.ipv6_address}
    if any(addresses.values()):
        config["IPAMConfig"] = {k: v for k, v in addresses.items() if v}
    return config


def attachment_words(attachment: NetworkAttachment, alias: str = "--alias") -> list[str]:
    """A network attachment's aliases and addresses as the CLI's flags (``--alias``
    for ``network connect``, ``--network-alias`` for ``create``)."""
    words = [w for a in attachment.aliases for w in (alias, a)]
    if attachment.ipv4_address:
        words += ["--ip", attachment.ipv4_address]
    if attachment.ipv6_address:
        words += ["--ip6", attachment.ipv6_address]
    return words


@dataclass(frozen=True)
class EnvFiles:
    """``env_files``: the paths (the CLI's ``--env-file``) and, once the runner has
    read them at start, their pairs (the API document's ``Env``)."""

    paths: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...] | None = None


def _env_files(container: OciContainer) -> EnvFiles | None:
    return EnvFiles(container.env_files) if container.env_files else None


def _env_files_document(files: EnvFiles) -> dict[ApiKey, Any]:
    if files.pairs is None:
        raise ValueError("the env files were not read: the API document needs their values")
    return {"Env": [f"{key}={value}" for key, value in files.pairs]}


#: Where corral's secret files are, in a line shown without a daemon's runtime directory.
SECRETS_PLACEHOLDER = "<corral secrets>"


def secret_file(secrets_dir: str, service: str, index: int) -> str:
    """The host file holding secret ``index`` of ``service`` (on corral's tmpfs)."""
    return f"{secrets_dir}/{service}/{index}"


@dataclass(frozen=True)
class SecretMounts:
    """``secrets``: each secret's host file and its target, bound read-only."""

    mounts: tuple[tuple[str, str], ...]  # (host file, target)


def _secrets(container: OciContainer) -> SecretMounts | None:
    if not container.secrets:
        return None
    return SecretMounts(
        tuple((secret_file(SECRETS_PLACEHOLDER, "SERVICE", i), s.target)
              for i, s in enumerate(container.secrets))
    )  # fmt: skip


def _network_aliases(container: OciContainer) -> tuple[str, tuple[str, ...]] | None:
    if container.network is None or not container.network_aliases:
        return None
    return container.network, container.network_aliases


def _networks_words(flag: str, attachments: tuple[NetworkAttachment, ...]) -> list[str]:
    """The create joins the first network only (dockerd 20.10 refuses a second at
    create); the others are connected before start (``ContainerSpec.connects``)."""
    first = attachments[0]
    return [flag, first.name, *attachment_words(first, "--network-alias")]


def _networks_document(attachments: tuple[NetworkAttachment, ...]) -> dict[ApiKey, Any]:
    first = attachments[0]
    return {
        "HostConfig.NetworkMode": first.name,
        "NetworkingConfig.EndpointsConfig": {first.name: endpoint_config(first)},
    }


#: Every first-class run option, in the order of the CLI's words: the seed's
#: options first (entrypoint, env, network, user, workdir, ports, volumes), then
#: corral's additions. ``labels`` is read from the spec (declared and corral's).
RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        "entrypoint",
        "--entrypoint",
        _attribute("entrypoint"),
        lambda f, v: [f, v],
        lambda v: {"Entrypoint": [v]},
    ),
    each("environment", "--env", "Env", _environment, cli=_env_text, api=_env_text),
    text("network", "--network", "HostConfig.NetworkMode"),
    text("container_user", "--user", "User"),
    text("workdir", "--workdir", "WorkingDir"),
    RunOption(
        "ports", "-p", _ports, lambda f, v: [w for m in v for w in (f, m.text)], _port_document
    ),
    RunOption(
        "volumes", "-v", _mounts, lambda f, v: [w for m in v for w in (f, m.text)], _mount_document
    ),
    table("labels", "--label", "Labels"),
    text("hostname", "--hostname", "Hostname"),
    text("stop_signal", "--stop-signal", "StopSignal"),
    RunOption(
        "stop_timeout",
        "--stop-timeout",
        _stop_timeout,
        lambda f, v: [f, str(v)],
        lambda v: {"StopTimeout": v},
    ),
    RunOption("health_cmd", "--health-cmd", _health, _health_words, _health_document),
    # -- part B of issue 15: networks, env files, secrets
    RunOption("networks", "--network", _nonempty("networks"), _networks_words, _networks_document),
    RunOption(
        "env_files",
        "--env-file",
        _env_files,
        lambda f, v: [w for path in v.paths for w in (f, path)],
        _env_files_document,
    ),
    RunOption(
        "secrets",
        "--mount",
        _secrets,
        lambda f, v: [
            w for src, dst in v.mounts for w in (f, f"type=bind,source={src},target={dst},readonly")
        ],
        lambda v: {
            "HostConfig.Mounts": [
                {"Type": "bind", "Source": src, "Target": dst, "ReadOnly": True}
                for src, dst in v.mounts
            ]
        },
    ),
    RunOption(
        "network_aliases",
        "--network-alias",
        _network_aliases,
        lambda f, v: [w for alias in v[1] for w in (f, alias)],
        lambda v: {"NetworkingConfig.EndpointsConfig": {v[0]: {"Aliases": list(v[1])}}},
    ),
    switch("read_only", "--read-only", "HostConfig.ReadonlyRootfs"),
    # -- issue 15: resource limits, hardening, name resolution --
    RunOption(
        "expose",
        "--expose",
        _nonempty("expose"),
        lambda f, v: [w for p in v for w in (f, p)],
        _expose_document,
    ),
    number("memory", "--memory", "HostConfig.Memory"),
    number("memory_reservation", "--memory-reservation", "HostConfig.MemoryReservation"),
    number("memory_swap", "--memory-swap", "HostConfig.MemorySwap"),
    RunOption(
        "cpus",
        "--cpus",
        lambda c: None if c.cpus is None else nanoseconds(c.cpus),
        lambda f, v: [f, cpus_text(v)],
        lambda v: {"HostConfig.NanoCpus": v},
    ),
    number("cpu_shares", "--cpu-shares", "HostConfig.CpuShares"),
    text("cpuset", "--cpuset-cpus", "HostConfig.CpusetCpus"),
    number("pids_limit", "--pids-limit", "HostConfig.PidsLimit"),
    number("shm_size", "--shm-size", "HostConfig.ShmSize"),
    number("oom_score_adj", "--oom-score-adj", "HostConfig.OomScoreAdj"),
    RunOption(
        "ulimits",
        "--ulimit",
        lambda c: tuple((k, s, h) for k, (s, h) in c.ulimits.items()) or None,
        lambda f, v: [w for k, s, h in v for w in (f, f"{k}={s}:{h}")],
        lambda v: {"HostConfig.Ulimits": [{"Name": k, "Soft": s, "Hard": h} for k, s, h in v]},
    ),
    each("cap_add", "--cap-add", "HostConfig.CapAdd"),
    each("cap_drop", "--cap-drop", "HostConfig.CapDrop"),
    each("security_opt", "--security-opt", "HostConfig.SecurityOpt"),
    switch("privileged", "--privileged", "HostConfig.Privileged"),
    RunOption(
        "no_new_privileges",
        "--security-opt",
        lambda c: c.no_new_privileges or None,
        lambda f, v: [f, NO_NEW_PRIVILEGES],
        lambda v: {"HostConfig.SecurityOpt": [NO_NEW_PRIVILEGES]},
    ),
    switch("init", "--init", "HostConfig.Init"),
    RunOption(
        "tmpfs",
        "--tmpfs",
        _nonempty("tmpfs"),
        lambda f, v: [w for t in v for w in (f, t)],
        lambda v: {"HostConfig.Tmpfs": dict(parse_tmpfs(t) for t in v)},
    ),
    each("devices", "--device", "HostConfig.Devices", api=_device_document),
    table("sysctls", "--sysctl", "HostConfig.Sysctls"),
    each("group_add", "--group-add", "HostConfig.GroupAdd"),
    text("userns", "--userns", "HostConfig.UsernsMode"),
    each("dns", "--dns", "HostConfig.Dns"),
    each("dns_search", "--dns-search", "HostConfig.DnsSearch"),
    each("dns_options", "--dns-option", "HostConfig.DnsOptions"),
    each("extra_hosts", "--add-host", "HostConfig.ExtraHosts"),
    text("domainname", "--domainname", "Domainname"),
    RunOption(
        "mac_address",
        "--mac-address",
        lambda c: None if c.mac_address is None else (c.mac_address, c.network),
        lambda f, v: [f, v[0]],
        _mac_document,
    ),
    text("platform", "--platform", QUERY + "platform"),
    switch("stdin_open", "--interactive", "OpenStdin"),
    switch("tty", "--tty", "Tty"),
)

OPTIONS_BY_NAME: dict[str, RunOption] = {option.name: option for option in RUN_OPTIONS}

#: The engines' other spellings of the table's flags (``-m`` for ``--memory``).
OTHER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "--env": ("-e",),
    "--network": ("--net",),
    "--user": ("-u",),
    "--workdir": ("-w",),
    "-p": ("--publish",),
    "-v": ("--volume",),
    "--label": ("-l",),
    "--hostname": ("-h",),
    "--memory": ("-m",),
    "--interactive": ("-i",),
    "--tty": ("-t",),
    "--cpuset-cpus": ("--cpuset",),
}


def _flag_fields() -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for option in RUN_OPTIONS:
        for flag in (option.flag, *OTHER_SPELLINGS.get(option.flag, ())):
            fields.setdefault(flag, []).append(option.name)
    return fields


#: Every flag (and other spelling) of the table, and the fields it says.
FLAG_FIELDS: dict[str, list[str]] = _flag_fields()


def duplicated_arguments(extra_arguments: Iterable[str]) -> list[tuple[int, str, str]]:
    """(member, flag, field) for each of ``extra_arguments`` that says what a
    first-class field says (``--memory=1g``, ``-m 1g``, ``-it``): ``corral check``
    warns about each. The flags are the table's, so a new row is covered."""
    found: list[tuple[int, str, str]] = []
    words = list(extra_arguments)
    for i, word in enumerate(words):
        if not word.startswith("-") or word in ("-", "--"):
            continue
        flag, eq, inline = word.partition("=")
        if flag in FLAG_FIELDS:
            value = inline if eq else (words[i + 1] if i + 1 < len(words) else "")
            names = FLAG_FIELDS[flag]
            if names[0] == "environment" and "=" not in value:
                continue  # --env NAME: host_environment's documented way in
            if flag == "--security-opt":  # one flag, two fields
                nnp = value.startswith("no-new-privileges")
                names = ["no_new_privileges" if nnp else "security_opt"]
            found.append((i, flag, names[0]))
        elif not word.startswith("--") and len(word) > 2 and not eq:
            # bundled short switches (-it): each letter a switch of the table
            for letter in word[1:]:
                names = FLAG_FIELDS.get(f"-{letter}", [])
                if names and not OPTIONS_BY_NAME[names[0]].takes_value:
                    found.append((i, f"-{letter}", names[0]))
    return found


# -- the spec ----------------------------------------------------------------


@dataclass(frozen=True)
class ContainerSpec:
    """One container, every run option parsed: what both renderings describe."""

    name: str
    runtime: Runtime
    image: str
    command: tuple[str, ...]
    #: The set options, in table order, with their parsed values.
    options: tuple[tuple[RunOption, Any], ...]
    extra_arguments: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.values.update((option.name, value) for option, value in self.options)

    def value(self, name: str) -> Any:
        """The parsed value of option ``name``, or None when unset."""
        return self.values.get(name)

    @property
    def connects(self) -> tuple[NetworkAttachment, ...]:
        """The networks joined after create, before start (all of ``networks``
        but the first, which the create joins)."""
        attachments: tuple[NetworkAttachment, ...] = self.value("networks") or ()
        return attachments[1:]

    @property
    def cli_only(self) -> str | None:
        """Why only the CLI can create this container (None when the API can):
        free-form extra_arguments, or an environment entry without a value (which
        the CLI takes from its own environment, where host_environment lives)."""
        if self.extra_arguments:
            return "extra_arguments are CLI flags"
        environment = self.value("environment") or ()
        if any(value is None for _, value in environment):
            return "an environment entry without a value is read from the CLI's environment"
        return None


def container_spec(
    container: OciContainer,
    name: str,
    runtime: Runtime,
    labels: Mapping[str, str] | None = None,
    env_pairs: Iterable[tuple[str, str]] | None = None,
    secrets_dir: str = SECRETS_PLACEHOLDER,
    cli_env_file: str | None = None,
) -> ContainerSpec:
    """``container`` as service ``name`` on ``runtime``, with corral's ``labels``
    (None: the seed's line, which has none) merged over the declared ones, and
    the pairs its env files held when the runner read them (``env_pairs``), and
    its secret files under ``secrets_dir`` (the daemon's, once known). On the CLI
    path, ``cli_env_file`` (corral's literal copy of the pairs) replaces the
    declared env files in the words: the engines' CLIs parse env files by rules
    of their own."""
    options: list[tuple[RunOption, Any]] = []
    for option in RUN_OPTIONS:
        value = option.read(container)
        if option.name == "labels" and labels:
            value = {**(value or {}), **labels}
        if option.name == "env_files" and value is not None and env_pairs is not None:
            paths = value.paths if cli_env_file is None else (cli_env_file,)
            value = EnvFiles(paths, tuple(env_pairs))
        if option.name == "secrets" and value is not None:
            value = SecretMounts(
                tuple((secret_file(secrets_dir, name, i), target)
                      for i, (_, target) in enumerate(value.mounts))
            )  # fmt: skip
        if value is not None:
            options.append((option, value))
    return ContainerSpec(
        name=name,
        runtime=runtime,
        image=image_reference(container.image),
        command=container.command,
        options=tuple(options),
        extra_arguments=container.extra_arguments,
    )
