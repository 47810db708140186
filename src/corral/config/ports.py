"""The ``-p`` port mapping grammar, parsed once for validation and rendering.

``[ADDRESS:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTOCOL]``, with an IPv6
address in brackets: ``80``, ``8080:80``, ``127.0.0.1:8080:80``,
``127.0.0.1::80`` (any host port), ``9000-9009:80-89/udp``, ``[::1]:8080:80``.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.config._fields import show

PROTOCOLS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    pass


@dataclass(frozen=True)
class PortMapping:
    address: str  # "" means every address
    host: tuple[int, int] | None  # None: the engine picks a host port
    container: tuple[int, int]
    protocol: str

    def bindings(self) -> list[tuple[str, int]]:
        """(host port as the engine takes it — "", "8080" or a range to pick one
        from, "9000-9010" — and container port) for each container port."""
        first, last = self.container
        if self.host is None:
            return [("", port) for port in range(first, last + 1)]
        low, high = self.host
        if first == last and low != high:
            return [(f"{low}-{high}", first)]
        return [(str(low + i), first + i) for i in range(last - first + 1)]

    @property
    def text(self) -> str:
        """The mapping as the CLI's ``-p`` takes it (the canonical spelling)."""
        container = _range_text(self.container)
        host = _range_text(self.host) if self.host is not None else ""
        proto = "" if self.protocol == "tcp" else f"/{self.protocol}"
        if self.address:
            address = f"[{self.address}]" if ":" in self.address else self.address
            return f"{address}:{host}:{container}{proto}"
        return f"{host}:{container}{proto}" if host else f"{container}{proto}"

    def host_ports(self) -> list[int]:
        """Every host port this mapping may bind (for collision checks)."""
        return [] if self.host is None else list(range(self.host[0], self.host[1] + 1))


def parse_port(spec: str) -> PortMapping:
    rest, _, protocol = spec.partition("/")
    protocol = protocol or "tcp"
    if protocol not in PROTOCOLS:
        raise PortSpecError(f"unknown protocol {show(protocol)}")
    address = ""
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0 or rest[close + 1 : close + 2] != ":":
            raise PortSpecError("an IPv6 address must be written [ADDRESS]:HOST:CONTAINER")
        address, rest = rest[1:close], rest[close + 2 :]
        parts = rest.split(":")
        if len(parts) != 2:
            raise PortSpecError("expected [ADDRESS]:HOST:CONTAINER")
        host, container = parts
    else:
        parts = rest.split(":")
        if len(parts) == 1:
            host, container = "", parts[0]
        elif len(parts) == 2:
            host, container = parts
        elif len(parts) == 3:
            address, host, container = parts
        else:
            raise PortSpecError("expected [ADDRESS:]HOST:CONTAINER")
    inside = _port_range(container)
    outside = _port_range(host) if host else None
    single = inside[0] == inside[1]
    if outside is not None and not single and outside[1] - outside[0] != inside[1] - inside[0]:
        raise PortSpecError("the host and container ranges must be the same length")
    if address in ("0.0.0.0", "::"):
        address = ""
    return PortMapping(address, outside, inside, protocol)


def _range_text(ports: tuple[int, int]) -> str:
    first, last = ports
    return str(first) if first == last else f"{first}-{last}"


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        first = int(low)
        last = int(high) if high else first
    except ValueError:
        raise PortSpecError(f"{show(text)} is not a port or port range") from None
    if not (1 <= first <= last <= 65535):
        raise PortSpecError(f"{show(text)} is not a port or port range between 1 and 65535")
    return first, last
