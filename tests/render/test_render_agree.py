"""For any valid container, the CLI's words and the API document describe the same
container: both are brought to one normal form — the CLI's by a reading of its
flags written here from the engines' documented syntax, not corral's table —
and compared (hypothesis)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.config import OciContainer
from corral.render import container_spec, create_argv, create_document
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
    }
    single = {
        "--entrypoint": "entrypoint", "--network": "network", "--user": "user",
        "--workdir": "workdir", "--hostname": "hostname", "--stop-signal": "stop_signal",
        "--health-cmd": "health_cmd", "--health-retries": "health_retries",
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
        elif flag == "--network-alias":
            form.setdefault("aliases", []).append(value)
        elif flag in ("--ip", "--ip6"):
            form[flag] = value
        elif flag == "--mount":
            fields = dict(f.partition("=")[::2] for f in value.split(","))
            assert fields.pop("type") == "bind" and fields.pop("readonly") == ""
            form.setdefault("secrets", []).append((fields["source"], fields["target"]))
        elif flag == "--read-only":
            form["read_only"], i = True, i - 1
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
    if "health_retries" in form:
        form["health_retries"] = int(form["health_retries"])
    return form


def api_form(document: dict[str, Any]) -> dict[str, Any]:
    """Read an API create document into the same normal form."""
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
    assert set(document.get("ExposedPorts", {})) == {p for p, _, _ in form["ports"]}
    simple = {
        "User": "user", "WorkingDir": "workdir", "Hostname": "hostname",
        "StopSignal": "stop_signal", "StopTimeout": "stop_timeout",
    }  # fmt: skip
    for key, name in simple.items():
        if key in document:
            form[name] = document[key]
    if "Entrypoint" in document:
        (form["entrypoint"],) = document["Entrypoint"]
    if host.get("ReadonlyRootfs"):
        form["read_only"] = True
    for mount in host.get("Mounts", []):
        assert mount["Type"] == "bind" and mount["ReadOnly"] is True
        form.setdefault("secrets", []).append((mount["Source"], mount["Target"]))
    if "NetworkMode" in host:
        form["network"] = host["NetworkMode"]
    for name, endpoint in document.get("NetworkingConfig", {}).get("EndpointsConfig", {}).items():
        assert name == form["network"]
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


containers = st.builds(
    OciContainer,
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
    health_cmd=st.none() | words,
    health_interval=seconds,
    health_timeout=seconds,
    health_retries=st.integers(1, 10),
    health_start_period=seconds,
    read_only=st.booleans(),
)  # fmt: skip


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
    assert cli_form(create_argv(spec)) == api_form(document)
    assert {k: v for k, v in document["Labels"].items() if k.startswith("corral.")} == labels
