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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from corral.config import OciContainer
from corral.config.container import NetworkAttachment
from corral.config.mounts import Mount, parse_mount
from corral.config.ports import PortMapping, parse_port
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


# -- the table ---------------------------------------------------------------

#: A value's place in the API's create document: ``Labels``, ``HostConfig.Binds``.
ApiKey = str


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


def _attribute(name: str) -> Callable[[OciContainer], Any]:
    return lambda container: getattr(container, name)


def _nonempty(name: str) -> Callable[[OciContainer], Any]:
    return lambda container: getattr(container, name) or None


def text(name: str, flag: str, key: ApiKey) -> RunOption:
    """A string option: ``--flag VALUE``; ``key: VALUE``."""
    return RunOption(name, flag, _attribute(name), lambda f, v: [f, v], lambda v: {key: v})


def switch(name: str, flag: str, key: ApiKey) -> RunOption:
    """A boolean option: ``--flag`` when true; ``key: true``."""
    return RunOption(
        name, flag, lambda c: getattr(c, name) or None, lambda f, v: [f], lambda v: {key: True}
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
    return Health(
        test=("CMD-SHELL", container.health_cmd),
        interval=nanoseconds(container.health_interval),
        timeout=nanoseconds(container.health_timeout),
        retries=container.health_retries,
        start_period=nanoseconds(container.health_start_period),
    )


def _health_words(flag: str, health: Health) -> list[str]:
    return [
        flag, health.test[1],
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
    RunOption(
        "labels",
        "--label",
        _nonempty("labels"),
        lambda f, v: [w for k, x in v.items() for w in (f, f"{k}={x}")],
        lambda v: {"Labels": dict(v)},
    ),
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
)

OPTIONS_BY_NAME: dict[str, RunOption] = {option.name: option for option in RUN_OPTIONS}


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
