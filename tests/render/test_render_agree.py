"""For any valid container, the CLI's words and the API document describe the same
container: both are brought to one normal form — the CLI's by a reading of its
flags written here from the engines' documented syntax, not corral's table —
and compared (hypothesis)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.config import OciContainer
from corral.render import container_spec, create_argv, create_document
from corral.render.container import create_query
from corral.render.identity import corral_labels
from corral.runtimes import RUNTIMES

# -- the normal form ---------------------------------------------------------


def _go_duration(text: str) -> int:
    """A Go duration (``1.5s``, ``500ms``, ``2us``) in nanoseconds."""
    units = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s)", text)
    assert found, text
    number, unit = found.groups()
    whole, _, fraction = number.partition(".")
    scale = units[unit]
    return int(whole) * scale + (
        int(fraction.ljust(9, "0")[:9]) * scale // 10**9 if fraction else 0
    )


def _cli_ports(spec: str) -> set[tuple[str, str, str]]:
    """(container port/proto, host ip, host port) for each port ``-p SPEC`` publishes."""
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    ip = ""
    if rest.startswith("["):
        ip, rest = rest[1 : rest.index("]")], rest[rest.index("]") + 2 :]
        host, container = rest.split(":")
    else:
        parts = rest.split(":")
        if len(parts) == 3:
            ip, host, container = parts
        elif len(parts) == 2:
            host, container = parts
        else:
            host, container = "", parts[0]
    low, _, high = container.partition("-")
    ports = range(int(low), int(high or low) + 1)
    if host and len(ports) > 1:
        first = int(host.split("-")[0])
        hosts = [str(first + i) for i in range(len(ports))]
    else:
        hosts = [host] * len(ports)
    ip = "" if ip in ("0.0.0.0", "::") else ip
    return {(f"{p}/{proto}", ip, h) for p, h in zip(ports, hosts, strict=True)}


def _ram_in_bytes(text: str) -> int:
    """docker's ``--memory`` syntax (go-units RAMInBytes): a number, then b, k, m, g, t (1024s)."""
    found = re.fullmatch(r"(-?\d+(?:\.\d+)?)([bkmgt]?)b?", text.lower())
    assert found, text
    number, unit = found.groups()
    return int(float(number) * 1024 ** "bkmgt".index(unit or "b")) if number != "-1" else -1


def _device(text: str) -> dict[str, str]:
    """``--device HOST[:CONTAINER][:PERMS]`` as docker's ParseDevice reads it."""
    parts = text.split(":")
    host, container, perms = parts[0], parts[0], "rwm"
    if len(parts) == 3:
        container, perms = parts[1], parts[2]
    elif len(parts) == 2:
        if set(parts[1]) <= set("rwm") and not parts[1].startswith("/"):
            perms = parts[1]
        else:
            container = parts[1]
    return {"PathOnHost": host, "PathInContainer": container, "CgroupPermissions": perms}


def _exposed(text: str) -> set[str]:
    ports, _, proto = text.partition("/")
    low, _, high = ports.partition("-")
    return {f"{p}/{proto or 'tcp'}" for p in range(int(low), int(high or low) + 1)}


def cli_form(argv: list[str]) -> dict[str, Any]:
    """Read ``<runtime> create --name N OPTIONS… IMAGE CMD…`` as the engine would."""
    assert argv[1:3] == ["create", "--name"]
    words = argv[4:]
    form: dict[str, Any] = {
        "env": [],
        "labels": {},
        "ports": set(),
        "binds": [],
        "anonymous": set(),
        "exposed": set(),
    }
    single = {
        "--entrypoint": "entrypoint", "--network": "network", "--user": "user",
        "--workdir": "workdir", "--hostname": "hostname", "--stop-signal": "stop_signal",
        "--health-cmd": "health_cmd", "--health-retries": "health_retries",
        "--cpuset-cpus": "cpuset", "--userns": "userns", "--domainname": "domainname",
        "--mac-address": "mac_address", "--platform": "platform",
    }  # fmt: skip
    sizes = {
        "--memory": "memory", "--memory-reservation": "memory_reservation",
        "--memory-swap": "memory_swap", "--shm-size": "shm_size",
    }  # fmt: skip
    integers = {
        "--cpu-shares": "cpu_shares", "--pids-limit": "pids_limit",
        "--oom-score-adj": "oom_score_adj",
    }  # fmt: skip
    repeated = {
        "--cap-add": "cap_add", "--cap-drop": "cap_drop", "--security-opt": "security_opt",
        "--group-add": "group_add", "--dns": "dns", "--dns-search": "dns_search",
        "--dns-option": "dns_options", "--add-host": "extra_hosts",
    }  # fmt: skip
    switches = {
        "--read-only": "read_only", "--privileged": "privileged", "--init": "init",
        "--interactive": "stdin_open", "--tty": "tty",
    }  # fmt: skip
    durations = {
        "--health-interval": "health_interval",
        "--health-timeout": "health_timeout",
        "--health-start-period": "health_start_period",
    }
    i = 0
    while words[i].startswith("-"):
        flag, value = words[i], words[i + 1] if i + 1 < len(words) else ""
        i += 2
        if flag in single:
            form[single[flag]] = value
        elif flag in durations:
            form[durations[flag]] = _go_duration(value)
        elif flag in switches:
            form[switches[flag]], i = True, i - 1
        elif flag in sizes:
            form[sizes[flag]] = _ram_in_bytes(value)
        elif flag in integers:
            form[integers[flag]] = int(value)
        elif flag in repeated:
            form.setdefault(repeated[flag], []).append(value)
        elif flag == "--cpus":
            form["nano_cpus"] = int(Decimal(value) * 10**9)
        elif flag == "--ulimit":
            name, _, limits = value.partition("=")
            soft, _, hard = limits.partition(":")
            form.setdefault("ulimits", []).append(
                {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
            )
        elif flag == "--tmpfs":
            path, _, options = value.partition(":")
            form.setdefault("tmpfs", {})[path] = options
        elif flag == "--device":
            form.setdefault("devices", []).append(_device(value))
        elif flag == "--sysctl":
            key, _, text = value.partition("=")
            form.setdefault("sysctls", {})[key] = text
        elif flag == "--expose":
            form["exposed"] |= _exposed(value)
        elif flag == "--network-alias":
            form.setdefault("aliases", []).append(value)
        elif flag in ("--ip", "--ip6"):
            form[flag] = value
        elif flag == "--mount":
            fields = dict(f.partition("=")[::2] for f in value.split(","))
            assert fields.pop("type") == "bind" and fields.pop("readonly") == ""
            form.setdefault("secrets", []).append((fields["source"], fields["target"]))
        elif flag == "--stop-timeout":
            form["stop_timeout"] = int(value)
        elif flag == "--env":
            form["env"].append(value)
        elif flag == "--label":
            key, _, text = value.partition("=")
            form["labels"][key] = text
        elif flag == "-p":
            form["ports"] |= _cli_ports(value)
        elif flag == "-v":
            if ":" in value:
                form["binds"].append(value)
            else:
                form["anonymous"].add(value)
        else:
            raise AssertionError(f"unexpected flag {flag}")
    form["image"], form["cmd"] = words[i], words[i + 1 :]
    form["exposed"] |= {port for port, _, _ in form["ports"]}
    if "health_retries" in form:
        form["health_retries"] = int(form["health_retries"])
    return form


def api_form(document: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Read an API create document (and the create's query) into the same normal form."""
    host = document.get("HostConfig", {})
    form: dict[str, Any] = {
        "image": document["Image"],
        "cmd": document.get("Cmd", []),
        "env": document["Env"],
        "labels": document["Labels"],
        "binds": host.get("Binds", []),
        "anonymous": set(document.get("Volumes", {})),
        "ports": {
            (port, b["HostIp"], b["HostPort"])
            for port, bound in host.get("PortBindings", {}).items()
            for b in bound
        },
    }
    form["exposed"] = set(document.get("ExposedPorts", {}))
    assert query.pop("name") == "web"
    form.update(query)
    simple = {
        "User": "user", "WorkingDir": "workdir", "Hostname": "hostname",
        "StopSignal": "stop_signal", "StopTimeout": "stop_timeout",
    }  # fmt: skip
    for key, name in simple.items():
        if key in document:
            form[name] = document[key]
    if "Entrypoint" in document:
        (form["entrypoint"],) = document["Entrypoint"]
    flags = {
        "ReadonlyRootfs": "read_only", "Privileged": "privileged", "Init": "init",
    }  # fmt: skip
    for key, name in flags.items():
        if host.get(key):
            form[name] = True
    for key, name in (("OpenStdin", "stdin_open"), ("Tty", "tty")):
        if document.get(key):
            form[name] = True
    host_values = {
        "Memory": "memory", "MemoryReservation": "memory_reservation",
        "MemorySwap": "memory_swap", "ShmSize": "shm_size", "CpuShares": "cpu_shares",
        "PidsLimit": "pids_limit", "OomScoreAdj": "oom_score_adj", "NanoCpus": "nano_cpus",
        "CpusetCpus": "cpuset", "UsernsMode": "userns", "CapAdd": "cap_add",
        "CapDrop": "cap_drop", "SecurityOpt": "security_opt", "GroupAdd": "group_add",
        "Dns": "dns", "DnsSearch": "dns_search", "DnsOptions": "dns_options",
        "ExtraHosts": "extra_hosts", "Ulimits": "ulimits", "Tmpfs": "tmpfs",
        "Devices": "devices", "Sysctls": "sysctls",
    }  # fmt: skip
    for key, name in host_values.items():
        if key in host:
            form[name] = host[key]
    for key, name in (("Domainname", "domainname"), ("MacAddress", "mac_address")):
        if key in document:
            form[name] = document[key]
    for mount in host.get("Mounts", []):
        assert mount["Type"] == "bind" and mount["ReadOnly"] is True
        form.setdefault("secrets", []).append((mount["Source"], mount["Target"]))
    if "NetworkMode" in host:
        form["network"] = host["NetworkMode"]
    for name, endpoint in document.get("NetworkingConfig", {}).get("EndpointsConfig", {}).items():
        assert name == form["network"]
        if "MacAddress" in endpoint:  # the MAC address also on the declared network's endpoint
            assert endpoint["MacAddress"] == document["MacAddress"]
        if endpoint.get("Aliases"):
            form["aliases"] = endpoint["Aliases"]
        for key, flag in (("IPv4Address", "--ip"), ("IPv6Address", "--ip6")):
            if key in endpoint.get("IPAMConfig", {}):
                form[flag] = endpoint["IPAMConfig"][key]
    if "Healthcheck" in document:
        check = document["Healthcheck"]
        assert check["Test"][0] == "CMD-SHELL"
        form["health_cmd"] = check["Test"][1]
        form["health_interval"] = check["Interval"]
        form["health_timeout"] = check["Timeout"]
        form["health_retries"] = check["Retries"]
        form["health_start_period"] = check["StartPeriod"]
    return form


# -- valid containers --------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_characters="\x00\n"), min_size=1, max_size=12)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
port = st.integers(1, 65535)
paths = st.from_regex(r"/[a-z0-9]{1,6}(/[a-z0-9]{1,6}){0,2}", fullmatch=True)
seconds = st.one_of(
    st.integers(0, 600).map(float),
    st.integers(1, 999).map(lambda ms: ms / 1000),
    st.integers(1, 10**9).map(lambda ns: ns / 10**9),
)


@st.composite
def port_specs(draw: st.DrawFn) -> str:
    container = draw(port)
    protocol = draw(st.sampled_from(["", "/udp", "/tcp", "/sctp"]))
    address = draw(st.sampled_from(["", "127.0.0.1:", "0.0.0.0:", "[::1]:"]))
    host = draw(st.one_of(st.just(""), port.map(str)))
    if not host and not address:
        return f"{container}{protocol}"
    return f"{address}{host}:{container}{protocol}"


@st.composite
def mounts(draw: st.DrawFn) -> str:
    target = draw(paths)
    kind = draw(st.sampled_from(["anonymous", "bind", "named"]))
    if kind == "anonymous":
        return target
    source = draw(paths) if kind == "bind" else draw(names)
    options = draw(st.sampled_from(["", ":ro", ":rw,z"]))
    return f"{source}:{target}{options}"


base = st.fixed_dictionaries(dict(
    image=st.sampled_from(
        ["busybox", "localhost/web:1", "registry:5000/team/app@sha256:" + "a" * 64]
    ),
    command=st.lists(words, max_size=3),
    entrypoint=st.none() | words,
    environment=st.lists(st.tuples(names, st.text(max_size=8)).map(list), max_size=3),
    network=st.none() | names,
    container_user=st.none() | st.sampled_from(["1000", "app:app", "root"]),
    workdir=st.none() | paths,
    ports=st.lists(port_specs(), max_size=3),
    volumes=st.lists(mounts(), max_size=3),
    labels=st.dictionaries(names, st.text(max_size=8), max_size=3),
    hostname=st.none() | names,
    stop_signal=st.none() | st.sampled_from(["SIGTERM", "QUIT", "SIGUSR1", "9"]),
    stop_timeout=st.integers(0, 120).map(float),
    health_cmd=st.none() | words.filter(str.strip),  # blank is refused
    health_interval=seconds,
    health_timeout=seconds,
    health_retries=st.integers(1, 10),
    health_start_period=seconds,
    read_only=st.booleans(),
))  # fmt: skip

sizes = st.one_of(
    st.integers(1, 2**40),
    st.tuples(st.integers(1, 4096), st.sampled_from(["k", "m", "g", "K", "M", "G", "b"])).map(
        lambda t: f"{t[0]}{t[1]}"
    ),
)
MIB = 1 << 20
maybe = st.booleans()
capabilities = st.sampled_from(["ALL", "NET_ADMIN", "cap_net_raw", "CAP_SYS_TIME", "chown"])
hostnames = st.from_regex(r"[a-z][a-z0-9\-]{0,6}[a-z0-9]", fullmatch=True)
addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@st.composite
def limits(draw: st.DrawFn) -> dict[str, Any]:
    """Resource limits that hold together (swap >= memory >= reservation)."""
    fields: dict[str, Any] = {}
    if draw(maybe):
        memory = draw(st.integers(6, 4096)) * MIB
        fields["memory"] = draw(st.sampled_from([memory, f"{memory // MIB}m"]))
        if draw(maybe):
            fields["memory_swap"] = draw(st.sampled_from([-1, memory * 2, f"{memory // MIB * 3}m"]))
        if draw(maybe):
            fields["memory_reservation"] = draw(st.integers(1, memory))
    if draw(maybe):
        fields["shm_size"] = draw(sizes)
    if draw(maybe):
        fields["cpus"] = draw(
            st.one_of(st.integers(1, 64), st.integers(1, 6400).map(lambda n: n / 100))
        )
    return fields


@st.composite
def devices(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from(["/dev/fuse", "/dev/null", "/dev/sda"]))
    container = draw(st.sampled_from(["", ":/dev/xvda"]))
    perms = draw(st.sampled_from(["", ":r", ":rw", ":rwm"]))
    return f"{host}{container}{perms}"


hardening = st.fixed_dictionaries(
    {},
    optional=dict(
        expose=st.lists(st.one_of(port, port.map(str), port.map(lambda p: f"{p}/udp")), max_size=3),
        cpu_shares=st.integers(2, 262144),
        cpuset=st.sampled_from(["0", "0-1", "0,2-3"]),
        pids_limit=st.one_of(st.just(-1), st.integers(1, 10**6)),
        oom_score_adj=st.integers(-1000, 1000),
        ulimits=st.dictionaries(
            st.sampled_from(["nofile", "nproc", "core", "memlock"]),
            st.one_of(st.integers(-1, 10**6), st.tuples(st.integers(0, 1000),
                                                        st.integers(1000, 10**6)).map(list)),
            max_size=3,
        ),
        cap_add=st.lists(capabilities, max_size=3),
        cap_drop=st.lists(capabilities, max_size=3),
        security_opt=st.lists(st.sampled_from(["seccomp=unconfined", "label=disable",
                                               "apparmor=unconfined"]), max_size=2),
        privileged=maybe,
        no_new_privileges=maybe,
        init=maybe,
        tmpfs=st.lists(paths, max_size=3, unique=True).flatmap(
            lambda ps: st.tuples(*[st.sampled_from([p, f"{p}:size=64m", f"{p}:ro,mode=1777"])
                                   for p in ps]).map(list)
        ),
        devices=st.lists(devices(), max_size=2),
        sysctls=st.dictionaries(st.sampled_from(["net.core.somaxconn", "kernel.msgmax"]),
                                st.one_of(st.integers(0, 9999), st.just("1")), max_size=2),
        group_add=st.lists(st.one_of(names, st.integers(0, 9999).map(str)), max_size=2),
        userns=st.sampled_from(["host", "keep-id", "auto"]),
        dns=st.lists(addresses, max_size=2),
        dns_search=st.lists(hostnames, max_size=2),
        dns_options=st.lists(st.sampled_from(["ndots:2", "rotate", "timeout:1"]), max_size=2),
        extra_hosts=st.lists(
            st.tuples(hostnames, st.one_of(addresses, st.just("host-gateway"))).map(
                lambda t: f"{t[0]}:{t[1]}"
            ),
            max_size=2,
        ),
        domainname=hostnames,
        mac_address=st.sampled_from(["02:42:ac:11:00:02", "02:42:AC:11:00:FF"]),
        platform=st.sampled_from(["linux/amd64", "linux/arm64/v8", "linux"]),
        stdin_open=maybe,
        tty=maybe,
    ),
)  # fmt: skip

containers = st.builds(
    lambda fields, more, hard: OciContainer(**fields, **more, **hard), base, limits(), hardening
)


@st.composite
def networking(draw: st.DrawFn) -> dict[str, Any]:
    """``network`` (with aliases) or ``networks``, never both; and secrets."""
    kind = draw(st.sampled_from(["none", "network", "networks"]))
    net_names = st.from_regex(r"[a-z0-9][a-z0-9_.\-]{0,8}", fullmatch=True).filter(
        lambda name: name not in ("bridge", "host", "none")
    )
    aliases = st.lists(net_names, max_size=2)
    secrets = draw(
        st.lists(
            st.fixed_dictionaries({"target": paths, "source": paths}),
            max_size=2, unique_by=lambda s: s["target"],
        )
    )  # fmt: skip
    if kind == "network":
        return {"network": draw(net_names), "network_aliases": draw(aliases), "secrets": secrets}
    if kind == "networks":
        attachment = st.fixed_dictionaries(
            {"name": net_names, "aliases": aliases},
            optional={"ipv4_address": st.ip_addresses(v=4).map(str),
                      "ipv6_address": st.ip_addresses(v=6).map(str)},
        )  # fmt: skip
        members = draw(st.lists(attachment, min_size=1, max_size=3, unique_by=lambda a: a["name"]))
        return {"network": None, "networks": members, "secrets": secrets}
    return {"secrets": secrets}


def _with_networking(container: OciContainer) -> st.SearchStrategy[OciContainer]:
    return networking().map(
        lambda fields: OciContainer(**{**container.model_dump(exclude_defaults=True), **fields})
    )


containers_with_networks = containers.flatmap(_with_networking)


@settings(max_examples=300, deadline=None)
@given(container=containers_with_networks, runtime=st.sampled_from(RUNTIMES))
def test_cli_words_and_api_document_describe_the_same_container(
    container: OciContainer, runtime: str
) -> None:
    labels = corral_labels("web", "0" * 64, "/var/lib/corral")
    spec = container_spec(container, "web", runtime, labels)  # type: ignore[arg-type]
    document = create_document(spec)
    assert document is not None  # nothing here needs the CLI
    assert cli_form(create_argv(spec)) == api_form(document, create_query(spec))
    assert {k: v for k, v in document["Labels"].items() if k.startswith("corral.")} == labels
