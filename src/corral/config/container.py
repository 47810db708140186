"""``OciContainer`` and the small records it holds (``Action``, ``RespawnLimit``)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from corral.actions import BUILTIN_ACTIONS
from corral.config._base import Record
from corral.config._fields import (
    PAIR_LIST_SCHEMA,
    STRING_LIST_SCHEMA,
    Environment,
    Labels,
    Mappings,
    Name,
    NonEmpty,
    Seconds,
    SecretEnvironment,
    Strings,
    fail,
    field,
    list_of,
    pair_member,
    show,
)
from corral.config.image import OciImage
from corral.config.mounts import MountSpecError, parse_mount
from corral.config.reference import ReferenceError, parse_reference
from corral.config.registry import PullPolicy
from corral.config.run_options import (
    Addresses,
    Capabilities,
    Cpus,
    Cpuset,
    Devices,
    Expose,
    ExtraHosts,
    MacAddress,
    NonEmptyStrings,
    Platform,
    SecurityOpts,
    Size,
    SwapSize,
    Sysctls,
    Tmpfs,
    Ulimits,
    Userns,
)


class Action(Record):
    """A declared action: a command corral runs on request (`corral action NAME ACTION`),
    with `CORRAL_SERVICE` (and for containers `CORRAL_CONTAINER`) set."""

    toml_name = "container.actions"

    name: Name = field(doc="The action's name.")
    command: Strings = field(doc="The argv to run; its output goes to the caller.")
    documentation: StrictStr = field("", doc="What the action does, shown by `corral show`.")

    @field_validator("command")
    @classmethod
    def _command_nonempty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise fail("command must name a program to run, but [] was found")
        return value

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, value: str) -> str:
        if value in BUILTIN_ACTIONS:
            raise fail(f"{show(value)} is a built-in action and cannot be redeclared")
        return value


def _limit_pair(value: Any) -> Any:
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise fail(
                f"respawn_limit must be [STARTS, SECONDS] or a table, but {show(value)} was found"
            )
        return {"starts": value[0], "seconds": value[1]}
    return value


class RespawnLimit(Record):
    """At most `starts` starts within `seconds`; past it the service is disabled
    (Shepherd's respawn limit)."""

    toml_name = "respawn_limit"

    starts: StrictInt = field(5, doc="Starts allowed within the window.", ge=1)
    seconds: StrictFloat = field(30.0, doc="The window, in seconds.", gt=0)


RespawnLimitField = Annotated[RespawnLimit, BeforeValidator(_limit_pair)]

#: The signal names both engines know (docker's and podman's tables for Linux),
#: without ``SIG``; besides them, ``RTMIN+N``/``RTMAX-N`` and numbers 1 to 64.
SIGNAL_NAMES = frozenset(
    {
        "ABRT",
        "ALRM",
        "BUS",
        "CHLD",
        "CLD",
        "CONT",
        "FPE",
        "HUP",
        "ILL",
        "INT",
        "IO",
        "IOT",
        "KILL",
        "PIPE",
        "POLL",
        "PROF",
        "PWR",
        "QUIT",
        "SEGV",
        "STKFLT",
        "STOP",
        "SYS",
        "TERM",
        "TRAP",
        "TSTP",
        "TTIN",
        "TTOU",
        "URG",
        "USR1",
        "USR2",
        "VTALRM",
        "WINCH",
        "XCPU",
        "XFSZ",
        "RTMIN",
        "RTMAX",
    }
)
_REALTIME = re.compile(r"RTMIN\+([0-9]+)|RTMAX-([0-9]+)")


def _known_signal(name: str) -> bool:
    if name.isdigit():
        return 1 <= int(name) <= 64
    realtime = _REALTIME.fullmatch(name)
    if realtime is not None:
        return 1 <= int(realtime.group(1) or realtime.group(2)) <= 30
    return name in SIGNAL_NAMES


def _signal(value: str) -> str:
    name = value[3:] if value.startswith("SIG") else value
    if not _known_signal(name):
        raise fail(
            f"stop_signal must be a signal name like SIGTERM or a number from 1 to 64, "
            f"but {show(value)} was found"
        )
    return value if value.isdigit() or value.startswith("SIG") else f"SIG{value}"


def _health_cmd(value: Any) -> Any:
    """A string (shell form, Docker's ``CMD-SHELL``) or a list of strings (exec form,
    ``CMD``: no shell), never empty."""
    if isinstance(value, str):
        if not value.strip():
            raise fail("health_cmd must not be empty: leave it out for no health check")
        return value
    if isinstance(value, list | tuple):
        if not value:
            raise fail(
                "health_cmd must name a program to run, but [] was found: leave it out "
                "for no health check"
            )
        for i, word in enumerate(value):
            if not isinstance(word, str):
                raise fail(f"health_cmd members must be strings, but {show(word)} was found")
            if i == 0 and not word.strip():
                raise fail('health_cmd\'s first member must name a program, but "" was found')
        return tuple(value)
    raise fail(
        "health_cmd must be a string (run by a shell) or a list of strings (run as is), "
        f"but {show(value)} was found"
    )


#: ``health_cmd``: shell form (a string) or exec form (an argv).
HealthCommand = Annotated[
    StrictStr | tuple[StrictStr, ...],
    BeforeValidator(_health_cmd),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


Signal = Annotated[StrictStr, AfterValidator(_signal)]


#: The prefix of corral's own labels; a declaration may not set labels under it.
RESERVED_LABELS = "corral."


def _own_labels(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if key.startswith(RESERVED_LABELS):
            raise fail(
                f"{show(key)}: labels under {show(RESERVED_LABELS)} are corral's own "
                "(service, config hash, instance) and cannot be declared"
            )
    return value


UserLabels = Annotated[Labels, AfterValidator(_own_labels)]

_LABEL_FLAGS = ("--label", "-l")


def _no_own_labels(value: tuple[str, ...]) -> tuple[str, ...]:
    """extra_arguments may not set corral's labels either (``--label corral.…``)."""
    for i, word in enumerate(value):
        flag, eq, inline = word.partition("=")
        label = inline if eq and flag in _LABEL_FLAGS else None
        if word in _LABEL_FLAGS and i + 1 < len(value):
            label = value[i + 1]
        if label is not None and label.startswith(RESERVED_LABELS):
            words = value[i : i + (1 if label == inline else 2)]
            raise fail(
                f"{' '.join(show(w) for w in words)} (member {i}) sets a label under "
                f"{show(RESERVED_LABELS)}: those are corral's own (service, config hash, instance)"
            )
    return value


def _mount(spec: str) -> str:
    try:
        parse_mount(spec)
    except MountSpecError as error:
        raise fail(str(error)) from None
    return spec


#: The seed's ``-v`` list (strings or pairs), each member a valid mapping.
Volumes = Annotated[
    tuple[Annotated[str, BeforeValidator(pair_member(":")), AfterValidator(_mount)], ...],
    BeforeValidator(list_of("strings or pairs")),
    PAIR_LIST_SCHEMA,
]


def _address(version: int) -> Any:
    def check(value: str, info: ValidationInfo) -> str:
        try:
            parsed = ipaddress.ip_address(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.version != version:
            raise fail(
                f"{info.field_name} must be an IPv{version} address, but {show(value)} was found"
            )
        return value

    return check


#: Network aliases: DNS names.
Aliases = Annotated[tuple[Name, ...], BeforeValidator(list_of("names")), STRING_LIST_SCHEMA]


class NetworkAttachment(Record):
    """One network a container joins (a member of `networks`): a network name, or a
    table with the container's aliases and addresses on it."""

    toml_name = "container.networks"
    default_change = "recreate"

    name: Name = field(doc="The network's name.")
    aliases: Aliases = field(
        (), doc="More names the container answers to on this network (`--network-alias`)."
    )
    ipv4_address: Annotated[StrictStr, AfterValidator(_address(4))] | None = field(
        None, doc="The container's IPv4 address on this network (`--ip`)."
    )
    ipv6_address: Annotated[StrictStr, AfterValidator(_address(6))] | None = field(
        None, doc="The container's IPv6 address on this network (`--ip6`)."
    )


def _attachment(member: Any) -> Any:
    if isinstance(member, str):
        return {"name": member}
    if not isinstance(member, dict | NetworkAttachment):
        raise fail(
            f"networks members must be a network name or a table, but {show(member)} was found"
        )
    return member


Networks = Annotated[
    tuple[Annotated[NetworkAttachment, BeforeValidator(_attachment)], ...],
    BeforeValidator(list_of("network names or tables")),
]


def _mode(value: str) -> str:
    if not re.fullmatch(r"0?[0-7]{3}", value):
        raise fail(f'mode must be an octal file mode like "0400", but {show(value)} was found')
    return value


class Secret(Record):
    """A secret file (a member of `secrets`): its value read from a host file or a
    command's output at each start, written by corral into a 0700 directory on a
    tmpfs of its own, and bind-mounted read-only at `target`. The value is in no
    argv, environment, label, log or inspect field."""

    toml_name = "container.secrets"
    default_change = "recreate"

    source: StrictStr | None = field(
        None,
        doc="The host file holding the value, relative to the configuration file; it "
        "must not be readable by others (see allow_world_readable).",
    )
    command: Strings = field(
        (), doc="Instead of `source`: the argv whose standard output is the value."
    )
    target: StrictStr = field(doc="Where the file appears in the container: an absolute path.")
    mode: Annotated[StrictStr, AfterValidator(_mode)] = field(
        "0400", doc="The file's mode, in octal."
    )
    uid: StrictInt = field(0, doc="The file's owner (a numeric user ID).", ge=0)
    gid: StrictInt = field(0, doc="The file's group (a numeric group ID).", ge=0)
    allow_world_readable: StrictBool = field(
        False, doc="Accept a `source` file that others may read."
    )

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise fail(
                f"target must be an absolute path in the container, but {show(value)} was found"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        if (self.source is None) == (not self.command):
            raise fail("a secret takes its value from one of source or command")
        return self

    @property
    def octal_mode(self) -> int:
        return int(self.mode, 8)


def _image(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise fail("image must not be empty")
        try:
            parse_reference(value)
        except ReferenceError as error:
            raise fail(f"image: {error}") from None
        return value
    if isinstance(value, dict | OciImage):
        return value
    raise fail(f"image must be a string or a table of image fields, but {show(value)} was found")


def _image_kind(value: Any) -> str:
    return "@string" if isinstance(value, str) else "@table"


ImageField = Annotated[
    Annotated[StrictStr, Tag("@string")] | Annotated[OciImage, Tag("@table")],
    Discriminator(_image_kind),
    BeforeValidator(_image),
]


class OciContainer(Record):
    """A container run as a supervised service (the seed's
    `oci-container-configuration`): `<runtime> run --rm --name NAME … IMAGE COMMAND`."""

    toml_name = "[container]"
    default_change = "recreate"

    user: NonEmpty = field(
        "oci-container",
        doc="The host user under whose authority the engine CLI runs.",
        change="in_place",
    )
    group: NonEmpty = field(
        "docker", doc="The host group under whose authority the engine CLI runs.", change="in_place"
    )
    command: Strings = field((), doc="Overrides the image's default command (CMD).")
    entrypoint: StrictStr | None = field(None, doc="Overrides the image's ENTRYPOINT.")
    host_environment: SecretEnvironment = field(
        (),
        doc="Environment of the engine CLI process only, never its argv: with `--env NAME` in "
        "extra_arguments this passes secrets into the container. `K=V` strings or `[K, V]` "
        "pairs. Values are never shown.",
        secret=True,
    )
    environment: Environment = field(
        (), doc="Environment inside the container: `K=V` strings or `[K, V]` pairs (`--env`)."
    )
    image: ImageField = field(
        doc="The image: a reference the engine resolves (`registry:5000/team/app:1`), or a "
        "table of image fields that corral loads or builds (see OciImage)."
    )
    pull: PullPolicy | None = field(
        None,
        doc='When a start pulls a string image: "missing" (only when the engine lacks it), '
        '"always" (at every start and respawn), "never" (a missing image fails the start), '
        '"newer" (when the registry\'s digest for the tag differs from the local one). A '
        "failed pull under always or newer keeps a local image, saying so in `status`. "
        "Default: the top-level `pull`. Read at each start: a change restarts nothing.",
        change="in_place",
    )
    provision: Name | None = field(
        None,
        doc="The service's name. Default: `<runtime>-<image basename>`, tag and digest "
        "stripped (`registry:5000/team/app:1.2` gives `docker-app`).",
    )
    requirement: Strings = field(
        (), doc="Services that must be running before this one starts.", change="in_place"
    )
    log_file: StrictStr | None = field(
        None,
        doc="File that receives the container's stdout and stderr, appended; default: the "
        "engine's log.",
        change="in_place",
    )
    auto_start: StrictBool = field(True, doc="Start with `corral up`.", change="in_place")
    respawn: StrictBool = field(
        False, doc="Restart the container when it exits (see respawn_on).", change="in_place"
    )
    respawn_on: Literal["exit", "failure"] = field(
        "exit",
        doc='When respawn applies: "exit" (any exit, Compose\'s `always`/`unless-stopped`) or '
        '"failure" (a non-zero exit only, `on-failure`; `on-failure:N` is respawn_limit\'s '
        "starts). A `corral stop` is never undone by a respawn.",
        change="in_place",
    )
    one_shot: StrictBool = field(
        False,
        doc="The container runs to completion: done when it exits 0, and dependents start "
        "only then; a non-zero exit fails their start (Compose's "
        '`service_completed_successfully`). Not with respawn_on = "exit" and respawn.',
    )
    actions: tuple[Action, ...] = field(
        (), doc="Declared actions (name, command, documentation).", change="in_place"
    )
    network: StrictStr | None = field(None, doc="The network to join (`--network`).")
    ports: Mappings = field(
        (), doc="Published ports: `HOST:CONTAINER` strings or `[HOST, CONTAINER]` pairs (`-p`)."
    )
    volumes: Volumes = field(
        (),
        doc="Volume mappings: `SRC:DEST[:OPTS]` strings or `[SRC, DEST]` pairs, or a bare "
        "`DEST` for an anonymous volume (`-v`); DEST is absolute. A SRC starting with `.` is "
        "relative to the configuration file, one starting with `~` to the home of the user "
        "corral runs as; any other SRC without `/` names a volume. OPTS such as `ro`, `z`; on "
        "podman `U` chowns a bind SRC to the container user's mapped id (rootless: what that "
        "user is on the host); a missing bind SRC directory is created, owned by the user "
        "corral runs as.",
    )
    container_user: StrictStr | None = field(None, doc="The user inside the container (`--user`).")
    workdir: StrictStr | None = field(None, doc="The working directory inside the container.")
    extra_arguments: Annotated[Strings, AfterValidator(_no_own_labels)] = field(
        (),
        doc="Strings passed to `run` after the options, before the image (they make corral "
        "create the container with the CLI).",
    )
    stop_signal: Signal | None = field(
        None, doc="Signal that asks the container to stop; default: the image's, else SIGTERM."
    )
    stop_timeout: Seconds = field(
        10.0, doc="Seconds between the stop signal and SIGKILL (`--stop-timeout` when not 10)."
    )
    labels: UserLabels = field(
        default_factory=dict,
        doc="Container labels (`--label`); keys under `corral.` are corral's own.",
    )
    hostname: StrictStr | None = field(None, doc="The container's hostname.")
    # -- part B of issue 15: networks, env files, secrets --------------------
    networks: Networks = field(
        (),
        doc="Networks to join: names, or tables `{ name, aliases, ipv4_address, "
        "ipv6_address }`. The first is joined at create, the others connected before the "
        "container starts. Not with `network`.",
    )
    secrets: Annotated[tuple[Secret, ...], BeforeValidator(list_of("tables"))] = field(
        (),
        doc="Secret files: tables `{ source = FILE | command = [...], target, mode, uid, gid }` "
        "(see Secret); a changed value recreates the container.",
    )
    network_aliases: Aliases = field(
        (), doc="More names the container answers to on `network` (`--network-alias`)."
    )
    env_files: Strings = field(
        (),
        doc="Files of `KEY=VALUE` lines (Compose's rules: comments, quotes, `export`, no "
        "interpolation), relative to the configuration file, read at each start; "
        "`environment` wins over them. Their values are never shown; a change to a file "
        "recreates the container (`--env-file`).",
    )
    read_only: StrictBool = field(False, doc="Mount the container's root filesystem read-only.")
    # -- issue 15: resource limits, hardening, name resolution (one block) --
    expose: Expose = field(
        (), doc="Ports the container listens on, not published: `PORT[/PROTO]` (`--expose`)."
    )
    memory: Size | None = field(
        None, doc="Memory limit: a size like `512m`, `2g` or bytes (`--memory`)."
    )
    memory_reservation: Size | None = field(
        None, doc="Soft memory limit, at most `memory` (`--memory-reservation`)."
    )
    memory_swap: SwapSize | None = field(
        None,
        doc="Memory plus swap limit, at least `memory`; -1 for unlimited swap "
        "(`--memory-swap`); needs `memory`.",
    )
    cpus: Cpus | None = field(
        None, doc="CPUs the container may use, a decimal like `1.5` (`--cpus`)."
    )
    cpu_shares: StrictInt | None = field(
        None, doc="Relative CPU weight, 2 to 262144 (`--cpu-shares`).", ge=2, le=262144
    )
    cpuset: Cpuset | None = field(
        None, doc="CPUs the container may run on, like `0-3,5` (`--cpuset-cpus`)."
    )
    pids_limit: StrictInt | None = field(
        None, doc="Most processes in the container; -1 for unlimited (`--pids-limit`).", ge=-1
    )
    shm_size: Size | None = field(None, doc="Size of `/dev/shm` (`--shm-size`).")
    oom_score_adj: StrictInt | None = field(
        None,
        doc="The OOM killer's adjustment, -1000 to 1000 (`--oom-score-adj`).",
        ge=-1000,
        le=1000,
    )
    ulimits: Ulimits = field(
        default_factory=dict,
        doc="Resource limits: `{ nofile = [1024, 4096], nproc = 512 }`, a limit or "
        "[SOFT, HARD] (`--ulimit`).",
    )
    cap_add: Capabilities = field(
        (), doc="Capabilities to add, like `NET_ADMIN` (`CAP_` optional) or `ALL` (`--cap-add`)."
    )
    cap_drop: Capabilities = field(
        (), doc="Capabilities to drop, like `NET_RAW` or `ALL` (`--cap-drop`)."
    )
    security_opt: SecurityOpts = field(
        (), doc="Security options, like `seccomp=unconfined`, `label=disable` (`--security-opt`)."
    )
    privileged: StrictBool = field(
        False, doc="Give the container every capability and device (`--privileged`)."
    )
    no_new_privileges: StrictBool = field(
        False,
        doc="Processes cannot gain privileges (setuid) (`--security-opt no-new-privileges:true`).",
    )
    init: StrictBool = field(
        False, doc="Run an init as PID 1 that reaps zombies and forwards signals (`--init`)."
    )
    tmpfs: Tmpfs = field(
        (), doc="tmpfs mounts: `PATH` or `PATH:OPTIONS` like `/run:size=64m` (`--tmpfs`)."
    )
    devices: Devices = field(
        (), doc="Host devices: `HOST[:CONTAINER[:PERMS]]`, PERMS of `rwm` (`--device`)."
    )
    sysctls: Sysctls = field(
        default_factory=dict,
        doc='Namespaced kernel parameters: `{ "net.core.somaxconn" = "1024" }` (`--sysctl`).',
    )
    group_add: NonEmptyStrings = field(
        (), doc="Extra groups of the container's user, names or GIDs (`--group-add`)."
    )
    userns: Userns | None = field(
        None,
        doc="The user namespace: `host`; on podman also `keep-id` (rootless: the container "
        "runs as the user corral runs as, so files it writes in a bind mount are that user's), "
        "`auto`, `nomap`… (`--userns`).",
    )
    dns: Addresses = field((), doc="DNS servers, IP addresses (`--dns`).")
    dns_search: NonEmptyStrings = field((), doc="DNS search domains (`--dns-search`).")
    dns_options: NonEmptyStrings = field(
        (), doc="resolv.conf options, like `ndots:2` (`--dns-option`)."
    )
    extra_hosts: ExtraHosts = field(
        (), doc="Lines added to /etc/hosts: `HOST:IP` or `HOST:host-gateway` (`--add-host`)."
    )
    domainname: StrictStr | None = field(
        None, doc="The container's NIS domain name (`--domainname`)."
    )
    mac_address: MacAddress | None = field(
        None, doc="The container's MAC address (`--mac-address`)."
    )
    platform: Platform | None = field(
        None, doc="The image platform, `OS[/ARCH[/VARIANT]]` like `linux/arm64` (`--platform`)."
    )
    stdin_open: StrictBool = field(False, doc="Keep stdin open (`--interactive`).")
    tty: StrictBool = field(False, doc="Allocate a pseudo-terminal (`--tty`).")
    health_cmd: HealthCommand | None = field(
        None,
        doc="Health check command: a string is run by a shell in the container (Docker's "
        "`CMD-SHELL`), a list is run as is, with no shell (exec form, `CMD`) (`--health-cmd`).",
    )
    health_interval: Seconds = field(30.0, doc="Seconds between health checks.")
    health_timeout: Seconds = field(30.0, doc="Seconds a health check may take.")
    health_retries: StrictInt = field(3, doc="Failed checks before unhealthy.", ge=1)
    health_start_period: Seconds = field(
        0.0, doc="Seconds after start during which failures don't count."
    )
    health_start_interval: Seconds | None = field(
        None,
        doc="Seconds between health checks during health_start_period (Docker's "
        "`--health-start-interval`, API 1.44); where the engine has none (dockerd 20.10, "
        "Podman 4.3) corral runs those checks itself. Default: health_interval.",
    )
    on_unhealthy: Literal["ignore", "restart"] = field(
        "ignore",
        doc='What to do when the container turns unhealthy: "ignore" or "restart".',
        change="in_place",
    )
    respawn_limit: RespawnLimitField = field(
        default_factory=RespawnLimit,
        doc="At most `starts` starts in `seconds` (default 5 in 30), then the service is "
        "disabled: `{ starts = 5, seconds = 30 }` or `[5, 30]`.",
        change="in_place",
    )
    respawn_delay: Seconds = field(
        0.1,
        doc="Seconds before a respawn; doubles on each quick death, up to 30.",
        change="in_place",
    )

    @field_validator("networks")
    @classmethod
    def _one_way_to_join(
        cls, value: tuple[NetworkAttachment, ...], info: ValidationInfo
    ) -> tuple[NetworkAttachment, ...]:
        if value and info.data.get("network") is not None:
            raise fail(
                "network and networks cannot both be declared: put "
                f"{show(info.data['network'])} in networks"
            )
        names = [attachment.name for attachment in value]
        for name in names:
            if names.count(name) > 1:
                raise fail(f"networks names {show(name)} twice")
        return value

    @field_validator("secrets")
    @classmethod
    def _distinct_targets(cls, value: tuple[Secret, ...]) -> tuple[Secret, ...]:
        targets = [secret.target for secret in value]
        for target in targets:
            if targets.count(target) > 1:
                raise fail(f"two secrets have the target {show(target)}")
        return value

    @field_validator("network_aliases")
    @classmethod
    def _aliases_need_a_network(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        network: str | None = info.data.get("network")
        if value and network is None:
            raise fail(
                "network_aliases are names on `network`, which is not declared "
                "(aliases need a user-defined network)"
            )
        if (
            value
            and network
            and (network in ("bridge", "host", "none") or network.startswith("container:"))
        ):
            raise fail(f"network_aliases need a user-defined network, and {show(network)} is not")
        return value

    @model_validator(mode="after")
    def _one_shot_policy(self) -> OciContainer:
        if self.one_shot and self.respawn and self.respawn_on == "exit":
            raise fail(
                'one_shot with respawn = true needs respawn_on = "failure": a one-shot that '
                "exited 0 is done, not respawned"
            )
        if self.one_shot and self.on_unhealthy == "restart":
            raise fail('one_shot cannot have on_unhealthy = "restart": it is meant to exit')
        return self

    @model_validator(mode="after")
    def _health_policy(self) -> OciContainer:
        if self.on_unhealthy == "restart":
            if self.health_cmd is None:
                raise fail('on_unhealthy = "restart" needs a health_cmd to judge health by')
            if not self.respawn:
                raise fail(
                    'on_unhealthy = "restart" needs respawn = true: the restart is a respawn, '
                    "under respawn_limit"
                )
        return self
