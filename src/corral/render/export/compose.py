"""``corral export compose``: one Compose file (the Compose Specification), or
with ``--swarm`` a stack for ``docker stack deploy``. Pure.

Each ``[[container]]`` is a service under its corral name; ``[[network]]`` and
``[[volume]]`` records are top-level networks and volumes under their exact
names (``name:``), networks the containers join without declaring them are
``external``. host_environment's values never appear: a name the container
reads becomes a ``${NAME}`` reference, filled from the environment of whoever
runs Compose. Every ``$`` of a value is written ``$$`` so Compose interpolates
nothing else. Swarm ignores some keys (``UNSUPPORTED`` in docker's loader) and
takes restart, resources and health restarts under ``deploy:``; a field only
Compose says is a warning there. The field-by-field tables are ``TABLE``
(``docs/exports.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from corral.config import Config, Network, OciContainer, Volume
from corral.config.container import NetworkAttachment
from corral.config.mounts import Mount
from corral.config.ports import PortMapping
from corral.config.run_options import parse_device, parse_tmpfs
from corral.render.export._yaml import dump
from corral.render.export.model import (
    Exported,
    ExportWarning,
    Row,
    Settings,
    Table,
    Unit,
    corral_built,
    extra_warnings,
    fill,
    hidden_names,
    host_environment_read,
    image_of,
    units,
)
from corral.render.spec import (
    NO_NEW_PRIVILEGES,
    EnvFiles,
    Health,
    cpus_text,
    duration,
)

Doc = dict[str, Any]
TARGET = "compose"
SWARM = "compose --swarm"
#: The Compose file version ``docker stack deploy`` (docker 20.10) reads.
STACK_VERSION = "3.9"
#: Keys Compose v2 knows and Debian's docker-compose 1.29 does not (newer than its
#: schema): a file with them is for Compose v2 (``docker compose``).
V2_ONLY = ("healthcheck.start_interval", "build.pull")


class Ref(str):
    """A string Compose interpolates (``${NAME}``): not escaped."""


def escaped(value: Any) -> Any:
    """``value`` with every ``$`` of its strings doubled (Compose interpolates
    ``$``), except ``Ref``s; str subclasses made plain for the YAML writer."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {str(k): escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(v) for v in value]
    return value


def _swarm(unit: Unit) -> bool:
    return unit.settings.swarm


def _set(key: str, convert: Callable[[Any], Any] = lambda v: v) -> Callable[[Doc, Any, Unit], None]:
    def put(out: Doc, value: Any, unit: Unit) -> None:
        out[key] = convert(value)

    return put


def _plain(
    key: str, convert: Callable[[Any], Any] = lambda v: v
) -> Callable[[Doc, Any, Unit], None]:
    """A key Swarm ignores: said in Compose, a warning under --swarm."""

    def put(out: Doc, value: Any, unit: Unit) -> None:
        if _swarm(unit):
            unit.warn(f"docker stack deploy ignores `{key}`")
        else:
            out[key] = convert(value)

    return put


def _compose_only(key: str, swarm_reason: str, convert: Callable[[Any], Any] = lambda v: v
                  ) -> Callable[[Doc, Any, Unit], None]:  # fmt: skip
    """A key the stack format (3.9) does not have: a warning under --swarm."""

    def put(out: Doc, value: Any, unit: Unit) -> None:
        if _swarm(unit):
            unit.warn(swarm_reason)
        else:
            out[key] = convert(value)

    return put


def _deploy(out: Doc, *path: str) -> Doc:
    node: Doc = out.setdefault("deploy", {})
    for key in path:
        node = node.setdefault(key, {})
    return node


def _resource(key: str, section: str, convert: Callable[[Any], Any], compose_key: str
              ) -> Callable[[Doc, Any, Unit], None]:  # fmt: skip
    """A limit: ``compose_key`` in Compose, ``deploy.resources.SECTION.KEY`` (a
    string) in a stack."""

    def put(out: Doc, value: Any, unit: Unit) -> None:
        if _swarm(unit):
            _deploy(out, "resources", section)[key] = str(convert(value))
        else:
            out[compose_key] = convert(value)

    return put


# -- the rows' conversions ----------------------------------------------------


def _image(out: Doc, value: Any, unit: Unit) -> None:
    out["image"] = image_of(unit)
    built = corral_built(unit)
    build = built.build if built is not None else None
    if build is not None:
        if _swarm(unit):
            unit.warn("docker stack deploy does not build: push the image first", "image.build")
        else:
            out["build"] = _build(build)
    elif corral_built(unit) is not None and unit.settings.images.get(unit.name) is None:
        reference = out["image"]
        unit.note(
            f"corral builds {reference} itself: `corral image push {unit.name} --to REF` "
            f"puts it in a registry (export with --image {reference}=REF), or "
            f"`corral image load {unit.name}` on each host"
        )


def _build(build: Any) -> Doc:
    out: Doc = {"context": build.context}
    if build.dockerfile != "Dockerfile":
        out["dockerfile"] = build.dockerfile
    if build.args:
        out["args"] = dict(build.args)
    if build.target:
        out["target"] = build.target
    if build.labels:
        out["labels"] = dict(build.labels)
    if build.pull:
        out["pull"] = True
    return out


def _environment(out: Doc, value: Any, unit: Unit) -> None:
    env = out.setdefault("environment", {})
    for key, text in value:
        env[key] = Ref(f"${{{key}}}") if text is None else text


def _host_environment(out: Doc, value: Any, unit: Unit) -> None:
    read, _ = host_environment_read(unit.container)
    env = out.setdefault("environment", {})
    for name in read:
        env[name] = Ref(f"${{{name}}}")
    unread = [n for n in hidden_names(unit.container) if n not in read]
    if unread:
        unit.warn(f"{', '.join(unread)} reach only the engine CLI's environment, not the container")


def _pull(out: Doc, value: Any, unit: Unit) -> None:
    policy = {"newer": "always"}.get(value, value)
    _compose_only(
        "pull_policy", "the stack format has no pull_policy (docker stack deploy pulls by digest)"
    )(out, policy, unit)


def _effective_pull(unit: Unit) -> Any:
    policy = unit.container.pull or unit.config.pull
    return None if policy == "missing" else policy


def _requirement(out: Doc, value: Any, unit: Unit) -> None:
    if _swarm(unit):
        unit.warn("docker stack deploy ignores depends_on: Swarm starts services in any order")
        return
    containers = unit.index.containers
    health = unit.index.health
    depends: Doc = {}
    for name in value:
        required = containers.get(name)
        if required is None:
            unit.warn(f"{name} is not a container: Compose cannot wait for it")
            continue
        if required.one_shot:
            condition = "service_completed_successfully"
        elif name in health:
            condition = "service_healthy"
        else:
            condition = "service_started"
        depends[name] = {"condition": condition}
    if depends:
        out["depends_on"] = depends


def _respawn(out: Doc, value: Any, unit: Unit) -> None:
    container = unit.container
    failure = unit.container.respawn_on == "failure"
    limit = container.respawn_limit
    if _swarm(unit):
        policy = _deploy(out, "restart_policy")
        policy["condition"] = "on-failure" if failure else "any"
        policy["max_attempts"] = limit.starts
        policy["window"] = duration(round(limit.seconds * 1e9))
        if container.respawn_delay != 0.1:
            policy["delay"] = duration(round(container.respawn_delay * 1e9))
        return
    out["restart"] = f"on-failure:{limit.starts}" if failure else "unless-stopped"


def _respawn_limit(out: Doc, value: Any, unit: Unit) -> None:
    if not unit.container.respawn or _swarm(unit) or unit.container.respawn_on == "failure":
        return
    unit.warn("Compose restarts without a limit (restart: unless-stopped)")


def _respawn_delay(out: Doc, value: Any, unit: Unit) -> None:
    if unit.container.respawn and not _swarm(unit):
        unit.warn("Compose has no restart delay")


def _network(out: Doc, value: str, unit: Unit) -> None:
    if value == "host" and _swarm(unit):
        out["networks"] = {"host": None}  # Swarm's own host network (external)
        return
    if value in ("host", "none", "bridge") or value.startswith("container:"):
        if _swarm(unit):
            unit.warn(f"docker stack deploy ignores network_mode ({value})")
        else:
            out["network_mode"] = value
        return
    aliases = unit.container.network_aliases
    out["networks"] = {value: {"aliases": list(aliases)} if aliases else None}


def _networks(out: Doc, value: tuple[NetworkAttachment, ...], unit: Unit) -> None:
    networks: Doc = {}
    for attachment in value:
        entry: Doc = {}
        if attachment.aliases:
            entry["aliases"] = list(attachment.aliases)
        if attachment.ipv4_address:
            entry["ipv4_address"] = attachment.ipv4_address
        if attachment.ipv6_address:
            entry["ipv6_address"] = attachment.ipv6_address
        networks[attachment.name] = entry or None
    out["networks"] = networks


def _ports(out: Doc, value: tuple[PortMapping, ...], unit: Unit) -> None:
    if not _swarm(unit):
        out["ports"] = [m.text for m in value]
        return
    ports: list[Doc] = []
    for mapping in value:
        if mapping.address:
            unit.warn(f"Swarm publishes on every address: {mapping.text} loses {mapping.address}")
        for host, port in mapping.bindings():
            entry: Doc = {"target": port}
            if host:
                if "-" in host:
                    unit.warn(f"Swarm publishes one host port per port: {mapping.text}")
                    continue
                entry["published"] = int(host)
            entry["protocol"] = mapping.protocol
            # no IPVS routing mesh needed: each node publishes its own task's port
            entry["mode"] = "host"
            ports.append(entry)
    out["ports"] = ports


def _volumes(out: Doc, value: tuple[Mount, ...], unit: Unit) -> None:
    out["volumes"] = [m.text for m in value]


def _stop_timeout(out: Doc, value: int, unit: Unit) -> None:
    out["stop_grace_period"] = f"{value}s"


def _health(out: Doc, value: Health, unit: Unit) -> None:
    test = list(value.test)
    check: Doc = {
        "test": test,
        "interval": duration(value.interval),
        "timeout": duration(value.timeout),
        "retries": value.retries,
        "start_period": duration(value.start_period),
    }
    if value.start_interval is not None:
        if _swarm(unit):
            unit.warn("the stack format (3.9) has no start_interval", "health_start_interval")
        else:
            check["start_interval"] = duration(value.start_interval)
    out["healthcheck"] = check


def _secrets(out: Doc, value: Any, unit: Unit) -> None:
    entries: list[Doc] = []
    for i, secret in enumerate(unit.container.secrets):
        if secret.source is None:
            unit.warn(
                f"secret {i} ({secret.target}) is a command's output: Compose reads secrets "
                "from files; write it to a file and declare `source`"
            )
            continue
        entry: Doc = {"source": secret_name(unit.name, i), "target": secret.target}
        if secret.uid or secret.gid or secret.mode != "0400":
            if _swarm(unit):
                entry.update(uid=str(secret.uid), gid=str(secret.gid), mode=int(secret.mode, 8))
            else:
                unit.warn(
                    f"secret {i} ({secret.target}): Compose ignores uid, gid and mode outside "
                    "Swarm (the file keeps its host owner and mode)"
                )
        entries.append(entry)
    if entries:
        out["secrets"] = entries


def secret_name(service: str, index: int) -> str:
    return f"{service}-secret-{index}"


def _env_files(out: Doc, value: EnvFiles, unit: Unit) -> None:
    out["env_file"] = list(value.paths)


def _ulimits(out: Doc, value: Any, unit: Unit) -> None:
    out["ulimits"] = {k: {"soft": s, "hard": h} for k, s, h in value}


def _security_opt(out: Doc, value: Any, unit: Unit) -> None:
    _plain("security_opt")(out, [*out.get("security_opt", []), *value], unit)


def _no_new_privileges(out: Doc, value: Any, unit: Unit) -> None:
    _plain("security_opt")(out, [*out.get("security_opt", []), NO_NEW_PRIVILEGES], unit)


def _devices(out: Doc, value: Any, unit: Unit) -> None:
    devices = []
    for entry in value:
        host, target, perms = parse_device(entry)
        devices.append(f"{host}:{target}:{perms}")
    _plain("devices")(out, devices, unit)


def _tmpfs(out: Doc, value: Any, unit: Unit) -> None:
    if _swarm(unit) and any(parse_tmpfs(t)[1] for t in value):
        unit.warn("the stack format's tmpfs takes paths only: the options are left out")
        out["tmpfs"] = [parse_tmpfs(t)[0] for t in value]
        return
    out["tmpfs"] = list(value)


def _on_unhealthy(out: Doc, value: Any, unit: Unit) -> None:
    if not _swarm(unit):
        unit.warn("Docker restarts no unhealthy container outside Swarm (use --swarm)")


def _auto_start(out: Doc, value: Any, unit: Unit) -> None:
    if _swarm(unit):
        unit.warn("every stack service starts: scale it to 0 to keep it stopped")
        return
    dependents = unit.index.dependents.get(unit.name, [])
    if dependents:
        unit.warn(f"required by {', '.join(dependents)}, so `docker compose up` starts it")
    else:
        out["profiles"] = ["manual"]  # `docker compose --profile manual up` starts it


def _one_shot(out: Doc, value: Any, unit: Unit) -> None:
    """Compose: nothing on the service itself (its dependents wait for
    ``service_completed_successfully``); Swarm: it is not restarted after exit 0."""
    if _swarm(unit):
        unit.warn("a Swarm service has no completed state: dependents do not wait for it")


def _user_group(out: Doc, value: Any, unit: Unit) -> None:
    unit.warn("the host account the engine CLI runs as: Compose talks to the engine itself")


REASON_ACTIONS = "declared actions are corral's own (`corral action`)"
REASON_LOG = "Compose sends logs to the engine's logging driver, not to a file"

#: Every ``[[container]]`` field, in the order a service says them.
TABLE: Table[Doc] = Table(
    TARGET,
    OciContainer,
    (
        Row("provision", "the service's name (its key under `services:`)", lambda o, v, u: None),
        Row(
            "image",
            "`image:` (a corral-built image by `--image FROM=TO`, else repository:tag); "
            "`build:` for a Dockerfile build (`build.pull`: Compose v2 only)",
            _image,
            read=lambda u: True,
        ),
        Row(
            "pull",
            "`pull_policy:` (`newer` → `always`); not in the stack format",
            _pull,
            read=_effective_pull,
        ),
        Row("command", "`command:`", _set("command", list)),
        Row("entrypoint", "`entrypoint:`", _set("entrypoint", lambda v: [v])),
        Row("environment", "`environment:` (a name without a value → `${NAME}`)", _environment),
        Row(
            "host_environment",
            "`environment: NAME: ${NAME}` for each name the container reads (values never)",
            _host_environment,
        ),
        Row("env_files", "`env_file:`", _env_files),
        Row("container_user", "`user:`", _set("user")),
        Row("workdir", "`working_dir:`", _set("working_dir")),
        Row("hostname", "`hostname:`", _set("hostname")),
        Row("domainname", "`domainname:`; ignored by Swarm", _plain("domainname")),
        Row("labels", "`labels:`", _set("labels", dict)),
        Row(
            "network",
            "`network_mode:` (host, none, bridge, container:X; ignored by Swarm), else `networks:`",
            _network,
        ),
        Row("network_aliases", "`networks: NAME: aliases:`", with_field="network"),
        Row("networks", "`networks:` with `aliases`, `ipv4_address`, `ipv6_address`", _networks),
        Row(
            "mac_address",
            "`mac_address:`; ignored by Swarm",
            _plain("mac_address"),
            read=lambda u: u.container.mac_address,
        ),
        Row("ports", "`ports:` (`--swarm`: long syntax, `mode: host`)", _ports),
        Row("expose", "`expose:`", _set("expose", list)),
        Row("volumes", "`volumes:` (named volumes declared at the top level)", _volumes),
        Row("tmpfs", "`tmpfs:`", _tmpfs),
        Row(
            "secrets",
            "`secrets:` (top-level file secrets; uid, gid, mode in Swarm)",
            _secrets,
            read=lambda u: u.container.secrets or None,
        ),
        Row("read_only", "`read_only:`", _set("read_only")),
        Row(
            "requirement",
            "`depends_on:` with `service_healthy` (a health check), "
            "`service_completed_successfully` (one_shot), else `service_started`; "
            "ignored by Swarm",
            _requirement,
        ),
        Row(
            "respawn",
            "`restart: unless-stopped` / `on-failure:N`; `--swarm`: `deploy.restart_policy`",
            _respawn,
        ),
        Row(
            "respawn_on",
            '"failure": `restart: on-failure:STARTS`; `--swarm`: `condition: on-failure`',
            with_field="respawn",
        ),
        Row(
            "one_shot",
            "dependents' `depends_on: condition: service_completed_successfully`; "
            "`--swarm`: a warning",
            _one_shot,
        ),
        Row(
            "respawn_limit",
            "`on-failure:STARTS`; `--swarm`: `max_attempts`, `window`",
            _respawn_limit,
        ),
        Row("respawn_delay", "`--swarm`: `deploy.restart_policy.delay`", _respawn_delay),
        Row("stop_signal", "`stop_signal:`", _set("stop_signal")),
        Row("stop_timeout", "`stop_grace_period:`", _stop_timeout),
        Row("health_cmd", "`healthcheck:` (`CMD-SHELL`, or `CMD` for a list)", _health),
        Row("health_interval", "`healthcheck.interval`", with_field="health_cmd"),
        Row("health_timeout", "`healthcheck.timeout`", with_field="health_cmd"),
        Row("health_retries", "`healthcheck.retries`", with_field="health_cmd"),
        Row("health_start_period", "`healthcheck.start_period`", with_field="health_cmd"),
        Row(
            "health_start_interval",
            "`healthcheck.start_interval` (Compose v2 only, not 1.29); not in the stack format",
            with_field="health_cmd",
        ),
        Row("on_unhealthy", "Swarm replaces an unhealthy task; Compose: a warning", _on_unhealthy),
        Row(
            "memory",
            "`mem_limit:`; `--swarm`: `deploy.resources.limits.memory`",
            _resource("memory", "limits", int, "mem_limit"),
        ),
        Row(
            "memory_reservation",
            "`mem_reservation:`; `--swarm`: `deploy.resources.reservations.memory`",
            _resource("memory", "reservations", int, "mem_reservation"),
        ),
        Row(
            "memory_swap",
            "`memswap_limit:`",
            _compose_only("memswap_limit", "Swarm has no swap limit"),
        ),
        Row(
            "cpus",
            "`cpus:`; `--swarm`: `deploy.resources.limits.cpus`",
            _resource("cpus", "limits", cpus_text, "cpus"),
        ),
        Row("cpu_shares", "`cpu_shares:`", _compose_only("cpu_shares", "Swarm has no CPU shares")),
        Row("cpuset", "`cpuset:`", _compose_only("cpuset", "Swarm has no cpuset")),
        Row(
            "pids_limit",
            "`pids_limit:`",
            _compose_only("pids_limit", "the stack format (3.9) has no pids limit"),
        ),
        Row("shm_size", "`shm_size:`; ignored by Swarm", _plain("shm_size", str)),
        Row(
            "oom_score_adj",
            "`oom_score_adj:`",
            _compose_only("oom_score_adj", "the stack format has no oom_score_adj"),
        ),
        Row("ulimits", "`ulimits:`", _ulimits),
        Row("cap_add", "`cap_add:`; ignored by Swarm", _plain("cap_add", list)),
        Row("cap_drop", "`cap_drop:`; ignored by Swarm", _plain("cap_drop", list)),
        Row("security_opt", "`security_opt:`; ignored by Swarm", _security_opt),
        Row("no_new_privileges", "`security_opt: [no-new-privileges:true]`", _no_new_privileges),
        Row("privileged", "`privileged:`; ignored by Swarm", _plain("privileged")),
        Row("init", "`init:`", _set("init")),
        Row("devices", "`devices:`; ignored by Swarm", _devices),
        Row("sysctls", "`sysctls:`", _set("sysctls", dict)),
        Row(
            "group_add",
            "`group_add:`",
            _compose_only("group_add", "the stack format has no group_add"),
        ),
        Row("userns", "`userns_mode:`; ignored by Swarm", _plain("userns_mode")),
        Row("dns", "`dns:`", _set("dns", list)),
        Row("dns_search", "`dns_search:`", _set("dns_search", list)),
        Row(
            "dns_options", "`dns_opt:`", _compose_only("dns_opt", "the stack format has no dns_opt")
        ),
        Row("extra_hosts", "`extra_hosts:`", _set("extra_hosts", list)),
        Row(
            "platform",
            "`platform:`",
            _compose_only("platform", "the stack format has no platform (use deploy.placement)"),
        ),
        Row("stdin_open", "`stdin_open:`", _set("stdin_open")),
        Row("tty", "`tty:`", _set("tty")),
        Row(
            "auto_start", "`profiles: [manual]` (`docker compose --profile manual up`)", _auto_start
        ),
        Row(
            "extra_arguments",
            "`--env NAME` → `environment: NAME: ${NAME}`; other flags: a warning",
            lambda o, v, u: extra_warnings(u, TARGET),
        ),
        Row("log_file", "a warning", reason=REASON_LOG),
        Row("actions", "a warning", reason=REASON_ACTIONS),
        Row("user", "a warning (the host account of the engine CLI)", _user_group),
        Row("group", "a warning (the host group of the engine CLI)", _user_group),
    ),
    title="a service under `services:`",
)


def _ipam(key: str) -> Callable[[Doc, Any, Unit], None]:
    def put(out: Doc, value: Any, unit: Unit) -> None:
        config: list[Doc] = out.setdefault("ipam", {}).setdefault("config", [{}])
        config[0][key] = value

    return put


NETWORK_TABLE: Table[Doc] = Table(
    TARGET,
    Network,
    (
        Row(
            "name",
            "the network's key and `name:` (no project prefix)",
            lambda o, v, u: None,
            read=lambda u: True,
        ),
        Row(
            "driver", "`driver:` (`--swarm`: `overlay`)", lambda o, v, u: None, read=lambda u: True
        ),
        Row("subnet", "`ipam.config[0].subnet`", _ipam("subnet")),
        Row("gateway", "`ipam.config[0].gateway`", _ipam("gateway")),
        Row("ip_range", "`ipam.config[0].ip_range`", _ipam("ip_range")),
        Row("ipv6", "`enable_ipv6:`", _set("enable_ipv6")),
        Row("internal", "`internal:`", _set("internal")),
        Row("labels", "`labels:`", _set("labels", dict)),
        Row("extra_arguments", "a warning", reason="free-form `network create` flags"),
    ),
    title="a top-level network",
)

VOLUME_TABLE: Table[Doc] = Table(
    TARGET,
    Volume,
    (
        Row("name", "the volume's key and `name:`", lambda o, v, u: None, read=lambda u: True),
        Row("driver", "`driver:`", _set("driver")),
        Row("labels", "`labels:`", _set("labels", dict)),
        Row("extra_arguments", "a warning", reason="free-form `volume create` flags"),
    ),
    title="a top-level volume",
)


def _network_doc(unit: Unit, swarm: bool) -> Doc:
    network = unit.record
    assert isinstance(network, Network)
    out: Doc = {"name": network.name}
    if swarm:
        out["driver"] = "overlay"
        if network.driver != "bridge":
            unit.warn(f"driver {network.driver}: a stack's networks are overlay", "driver")
        out["attachable"] = True
    elif network.driver != "bridge":
        out["driver"] = network.driver
    return fill(NETWORK_TABLE, out, unit)


def _volume_doc(unit: Unit) -> Doc:
    out: Doc = {"name": unit.record.name}  # type: ignore[attr-defined]
    return fill(VOLUME_TABLE, out, unit)


def _yaml(document: Any) -> str:
    return dump(escaped(document))  # fmt: skip


def _block(key: str, body: Any, comments: list[str], indent: str = "  ") -> str:
    """``key: body`` as YAML, indented under a top-level key, its comments first."""
    lines = [f"{indent}# {c}" for c in comments]
    text = _yaml({key: body})
    lines += [indent + line if line else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def render(config: Config, settings: Settings) -> Exported:
    """The compose file of ``config`` (``compose.yaml``) and its warnings."""
    swarm = settings.swarm
    target = SWARM if swarm else TARGET
    exported = Exported(target)
    all_units = units(config, target, settings)
    services: list[str] = []
    networks: list[str] = []
    volumes: list[str] = []
    named_volumes: dict[str, None] = {}
    used_networks: dict[str, None] = {}
    secret_files: list[tuple[str, str]] = []
    declared_networks = {n.name for n in config.networks}
    declared_volumes = {v.name for v in config.volumes}
    for unit in all_units:
        record = unit.record
        if isinstance(record, Network):
            networks.append(_block(record.name, _network_doc(unit, swarm), unit.comments))
        elif isinstance(record, Volume):
            volumes.append(_block(record.name, _volume_doc(unit), unit.comments))
        elif isinstance(record, OciContainer):
            body = fill(TABLE, {}, unit)
            if swarm:
                deploy = body.pop("deploy", {})
                # Swarm restarts any task by default; corral only with respawn
                deploy.setdefault("restart_policy", {"condition": "none"})
                body["deploy"] = {"replicas": 1, **deploy}
            for mount in unit.spec.value("volumes") or () if unit.spec else ():
                source = mount.source
                if source is not None and "/" not in source and not source.startswith("~"):
                    named_volumes[source] = None
            for name in body.get("networks", {}):
                used_networks[name] = None
            for i, secret in enumerate(record.secrets):
                if secret.source is not None:
                    secret_files.append((secret_name(unit.name, i), secret.source))
            services.append(_block(unit.name, body, unit.comments))
        else:
            what = "a process" if unit.declared.kind == "process" else f"the {unit.declared.kind}"
            unit.warn(f"{what} service has no Compose equivalent", unit.declared.kind)
            services.append("".join(f"  # {c}\n" for c in _service_comment(unit)))
        exported.warnings += unit.warnings
    for name in named_volumes:
        if name not in declared_volumes:
            volumes.append(_block(name, {"name": name}, []))
    for name in used_networks:
        if name not in declared_networks:
            networks.append(_block(name, {"name": name, "external": True}, []))
    parts = [_header(config, exported.warnings, swarm)]
    if swarm:
        parts.append(f'version: "{STACK_VERSION}"\n')
    if config.containers:
        parts.append("services:\n" + "".join(services))
    else:  # the comments of what is not a container, then no service
        parts.append("".join(services).replace("  # ", "# ") + "services: {}\n")
    if networks:
        parts.append("networks:\n" + "".join(networks))
    if volumes:
        parts.append("volumes:\n" + "".join(volumes))
    if secret_files:
        parts.append(
            "secrets:\n" + "".join(_block(n, {"file": path}, []) for n, path in secret_files)
        )
    exported.files["compose.yaml"] = "".join(parts)
    return exported


def _service_comment(unit: Unit) -> list[str]:
    return [f"{unit.name}: {c}" for c in unit.comments]


def _header(config: Config, warnings: list[ExportWarning], swarm: bool) -> str:
    lines = [
        "# Written by `corral export compose" + (" --swarm`" if swarm else "`") + ".",
    ]
    names = sorted({
        n for c in config.containers for n in host_environment_read(c)[0]
    })  # fmt: skip
    if names:
        lines.append(
            "# Set in the environment of `docker compose` (never written here): " + ", ".join(names)
        )
    if swarm:
        lines.append("# Deploy: docker stack deploy -c compose.yaml STACK (ports in mode: host)")
    return "".join(f"{line}\n" for line in lines)


ALL_TABLES: tuple[Table[Doc], ...] = (TABLE, NETWORK_TABLE, VOLUME_TABLE)
__all__ = ["ALL_TABLES", "TABLE", "Settings", "render"]
