"""The types of the run options issue 15 made first-class: sizes, CPUs, ulimits,
capabilities, tmpfs mounts, devices, sysctls, extra hosts, exposed ports, DNS
and the rest. Each value is parsed once, here, into the form both renderings
read (sizes in bytes, capabilities as ``CAP_NAME``, ulimits as soft/hard pairs).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StrictStr, ValidationInfo, WithJsonSchema

from corral.config._fields import Kind, fail, list_of, pair_member, show

# -- sizes -------------------------------------------------------------------

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?|(b)?)", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
#: The largest size the engines take (a signed 64-bit count of bytes).
MAX_SIZE = (1 << 63) - 1


def parse_size(value: Any, name: str, allow_unlimited: bool = False) -> int:
    """``512m``, ``2g``, ``1024k``, ``1.5g`` or a number of bytes, in bytes
    (the engines' units: k = 1024). -1 means unlimited where ``allow_unlimited``."""
    unlimited = " or -1 for unlimited" if allow_unlimited else ""
    expected = f'{name} must be a size like "512m", "2g" or a number of bytes{unlimited}'
    if isinstance(value, bool):
        raise fail(f"{expected}, but {show(value)} was found")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        found = _SIZE.fullmatch(value.strip())
        if found is None:
            raise fail(f"{expected}, but {show(value)} was found")
        digits, unit = found[1], found[2] or ""
        scaled = float(digits) * _UNITS[unit.lower()]
        number = int(scaled) if "." in digits else int(digits) * _UNITS[unit.lower()]
    else:
        raise fail(f"{expected}, but {show(value)} was found")
    if number == -1 and allow_unlimited:
        return number
    if number <= 0:
        raise fail(f"{name} must be more than 0 bytes{unlimited}, but {show(value)} was found")
    if number > MAX_SIZE:
        raise fail(f"{name} must be at most {MAX_SIZE} bytes, but {show(value)} was found")
    return number


def _size(allow_unlimited: bool) -> Callable[[Any, ValidationInfo], int]:
    def check(value: Any, info: ValidationInfo) -> int:
        return parse_size(value, str(info.field_name), allow_unlimited)

    return check


SIZE_SCHEMA = WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]})
#: A size in bytes, written ``512m`` or as a number.
Size = Annotated[int, BeforeValidator(_size(False)), SIZE_SCHEMA, Kind("size")]
#: A size, or -1 for unlimited (memory_swap).
SwapSize = Annotated[int, BeforeValidator(_size(True)), SIZE_SCHEMA, Kind("size or -1")]


def _cpus(value: Any, info: ValidationInfo) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"cpus must be a number like 1.5, but {show(value)} was found")
    if not 0.01 <= value <= 1_000_000:
        raise fail(f"cpus must be between 0.01 and 1000000, but {show(value)} was found")
    return float(value)


#: A decimal number of CPUs.
Cpus = Annotated[float, BeforeValidator(_cpus), Kind("number")]

_CPUSET = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def _cpuset(value: str) -> str:
    if not _CPUSET.fullmatch(value):
        raise fail(f'cpuset must be CPU numbers like "0-3,5", but {show(value)} was found')
    for part in value.split(","):
        low, _, high = part.partition("-")
        if high and int(high) < int(low):
            raise fail(f"cpuset range {show(part)} ends before it starts")
    return value


Cpuset = Annotated[StrictStr, AfterValidator(_cpuset)]

# -- ulimits -----------------------------------------------------------------

#: The resource names the engines' ``--ulimit`` takes (docker's go-units list).
ULIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


def _limit(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise fail(f"{where} must be an integer, or -1 for unlimited, but {show(value)} was found")
    return value


def _ulimits(value: Any) -> Any:
    if not isinstance(value, dict):
        raise fail(f"ulimits must be a table like nofile = [1024, 4096], but {show(value)} "
                   "was found")  # fmt: skip
    limits: dict[str, tuple[int, int]] = {}
    for name, limit in value.items():
        where = f"ulimits.{name}"
        if name not in ULIMIT_NAMES:
            raise fail(f"{where}: unknown resource {show(name)}; known: {', '.join(ULIMIT_NAMES)}")
        if isinstance(limit, list | tuple):
            if len(limit) != 2:
                raise fail(f"{where} must be SOFT or [SOFT, HARD], but {show(limit)} was found")
            soft, hard = _limit(limit[0], where), _limit(limit[1], where)
        else:
            soft = hard = _limit(limit, where)
        if hard != -1 and (soft == -1 or soft > hard):
            raise fail(f"{where}: the soft limit {soft} is above the hard limit {hard}")
        limits[name] = (soft, hard)
    return limits


ULIMITS_SCHEMA = WithJsonSchema(
    {
        "type": "object",
        "additionalProperties": {
            "anyOf": [
                {"type": "integer"},
                {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            ]
        },
    }
)
#: ``{ nofile = [1024, 4096], nproc = 512 }``: each resource's (soft, hard) limit.
Ulimits = Annotated[
    dict[str, tuple[int, int]],
    BeforeValidator(_ulimits),
    ULIMITS_SCHEMA,
    Kind("table of LIMIT or [SOFT, HARD]"),
]

# -- capabilities ------------------------------------------------------------

#: The Linux capabilities (include/uapi/linux/capability.h, up to CAP_CHECKPOINT_RESTORE).
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip


def _capability(member: Any, info: ValidationInfo) -> str:
    if not isinstance(member, str):
        raise fail(f"{info.field_name} members must be strings, but {show(member)} was found")
    name = member.upper()
    if name == "ALL":
        return name
    bare = name.removeprefix("CAP_")
    if bare not in CAPABILITIES:
        raise fail(
            f"{show(member)} is not a Linux capability (like NET_ADMIN or CAP_NET_ADMIN, or ALL)"
        )
    return f"CAP_{bare}"


STRING_LIST_SCHEMA = WithJsonSchema({"type": "array", "items": {"type": "string"}})


def strings_checked(check: Callable[[Any, ValidationInfo], str], kind: str) -> Any:
    """A list of strings, each member checked (and canonicalised) by ``check``."""
    return Annotated[
        tuple[Annotated[str, BeforeValidator(check)], ...],
        BeforeValidator(list_of("strings")),
        STRING_LIST_SCHEMA,
        Kind(f"list of {kind}"),
    ]


#: Capability names, canonical ``CAP_NAME`` (or ``ALL``).
Capabilities = strings_checked(_capability, "capability names")


def _string(member: Any, info: ValidationInfo) -> str:
    if not isinstance(member, str):
        raise fail(f"{info.field_name} members must be strings, but {show(member)} was found")
    if not member.strip():
        raise fail(f"{info.field_name} members must not be empty")
    return member


def _security_opt(member: Any, info: ValidationInfo) -> str:
    text = _string(member, info)
    if text.startswith("no-new-privileges"):
        raise fail(f"{show(text)}: write no_new_privileges = true instead")
    return text


SecurityOpts = strings_checked(_security_opt, "strings")

# -- tmpfs, devices ----------------------------------------------------------

_OPTIONS = re.compile(r"[A-Za-z0-9_=.\-+]+(,[A-Za-z0-9_=.\-+]+)*")


def _tmpfs(member: Any, info: ValidationInfo) -> str:
    text = _string(member, info)
    path, sep, options = text.partition(":")
    if not path.startswith("/"):
        raise fail(
            f"tmpfs path must be absolute (PATH or PATH:OPTIONS), but {show(text)} was found"
        )
    if sep and not _OPTIONS.fullmatch(options):
        raise fail(f"tmpfs options must be a comma-separated list like size=64m,mode=1777, "
                   f"but {show(text)} was found")  # fmt: skip
    return text


Tmpfs = strings_checked(_tmpfs, "PATH or PATH:OPTIONS")


def parse_tmpfs(text: str) -> tuple[str, str]:
    path, _, options = text.partition(":")
    return path, options


def parse_device(text: str) -> tuple[str, str, str]:
    """``HOST[:CONTAINER[:PERMS]]`` as (host, container, permissions)."""
    parts = text.split(":")
    host = parts[0]
    container = parts[1] if len(parts) > 1 and parts[1] else host
    perms = parts[2] if len(parts) > 2 else "rwm"
    return host, container, perms


def _device(member: Any, info: ValidationInfo) -> str:
    text = _string(member, info)
    parts = text.split(":")
    expected = f"devices members must be HOST[:CONTAINER[:PERMS]], but {show(text)} was found"
    if len(parts) > 3 or not parts[0].startswith("/"):
        raise fail(expected)
    if len(parts) == 2 and not parts[1].startswith("/") and set(parts[1]) <= set("rwm"):
        parts = [parts[0], parts[0], parts[1]]  # HOST:PERMS, as docker takes it
    if len(parts) > 1 and not parts[1].startswith("/"):
        raise fail(expected)
    if len(parts) == 3 and not (parts[2] and set(parts[2]) <= set("rwm")):
        raise fail(f'device permissions must be letters of "rwm", but {show(text)} was found')
    return ":".join(parts)


Devices = strings_checked(_device, "HOST[:CONTAINER[:PERMS]]")

# -- sysctls -----------------------------------------------------------------

_SYSCTL = re.compile(r"[a-z0-9_][a-z0-9_.\-/]*", re.IGNORECASE)


def _sysctls(value: Any) -> Any:
    if not isinstance(value, dict):
        raise fail(f"sysctls must be a table like \"net.core.somaxconn\" = \"1024\", but "
                   f"{show(value)} was found")  # fmt: skip
    out: dict[str, str] = {}
    for key, member in value.items():
        if not _SYSCTL.fullmatch(key):
            raise fail(f"sysctls: {show(key)} is not a kernel parameter name")
        if isinstance(member, bool) or not isinstance(member, str | int):
            raise fail(f"sysctls.{key} must be a string or integer, but {show(member)} was found")
        out[key] = str(member)
    return out


Sysctls = Annotated[dict[str, str], BeforeValidator(_sysctls), Kind("table of strings")]

# -- names and addresses -----------------------------------------------------


def _address(member: Any, info: ValidationInfo) -> str:
    text = _string(member, info)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise fail(
            f"{info.field_name} members must be IP addresses, but {show(text)} was found"
        ) from None


Addresses = strings_checked(_address, "IP addresses")
NonEmptyStrings = strings_checked(_string, "strings")

_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.\-]*[A-Za-z0-9_])?")
#: The address docker's --add-host resolves to the host's gateway.
HOST_GATEWAY = "host-gateway"


def _extra_host(member: str, info: ValidationInfo) -> str:
    name, sep, address = member.partition(":")
    expected = (
        f"extra_hosts members must be HOST:IP (or HOST:host-gateway), but {show(member)} was found"
    )
    if not sep or not _HOSTNAME.fullmatch(name):
        raise fail(expected)
    if address == HOST_GATEWAY:
        return member
    try:
        return f"{name}:{ipaddress.ip_address(address.strip('[]'))}"
    except ValueError:
        raise fail(expected) from None


ExtraHosts = Annotated[
    tuple[Annotated[str, BeforeValidator(pair_member(":")), AfterValidator(_extra_host)], ...],
    BeforeValidator(list_of("strings or pairs")),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
    Kind("list of HOST:IP strings or pairs"),
]

_PORT = re.compile(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?")


def parse_expose(text: str) -> tuple[int, int, str]:
    found = _PORT.fullmatch(text)
    assert found is not None
    low, high, proto = found.groups()
    return int(low), int(high or low), proto or "tcp"


def _expose(member: Any, info: ValidationInfo) -> str:
    if isinstance(member, int) and not isinstance(member, bool):
        member = str(member)
    text = _string(member, info)
    found = _PORT.fullmatch(text)
    if found is None:
        raise fail(f"expose members must be PORT[/PROTOCOL] like 8080 or 53/udp, but "
                   f"{show(text)} was found")  # fmt: skip
    low, high, proto = int(found[1]), int(found[2] or found[1]), found[3] or "tcp"
    if not 1 <= low <= high <= 65535:
        raise fail(f"expose: {show(text)} is not a port or range between 1 and 65535")
    return f"{low}/{proto}" if low == high else f"{low}-{high}/{proto}"


Expose = Annotated[
    tuple[Annotated[str, BeforeValidator(_expose)], ...],
    BeforeValidator(list_of("ports")),
    WithJsonSchema(
        {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}
    ),
    Kind("list of PORT[/PROTOCOL]"),
]

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", re.IGNORECASE)


def _mac(value: str) -> str:
    if not _MAC.fullmatch(value):
        raise fail(f"mac_address must look like 02:42:ac:11:00:02, but {show(value)} was found")
    return value.lower()


MacAddress = Annotated[StrictStr, AfterValidator(_mac)]

_PLATFORM = re.compile(r"[a-z0-9]+(/[a-z0-9_]+(/[a-z0-9]+)?)?")


def _platform(value: str) -> str:
    if not _PLATFORM.fullmatch(value):
        raise fail(f"platform must be OS[/ARCH[/VARIANT]] like linux/arm64, but {show(value)} "
                   "was found")  # fmt: skip
    return value


Platform = Annotated[StrictStr, AfterValidator(_platform)]


def _userns(value: str) -> str:
    if not value.strip():
        raise fail("userns must not be empty")
    return value


Userns = Annotated[StrictStr, AfterValidator(_userns)]
