"""``Network`` and ``Volume``: engine objects created before the containers
that use them (one-shot services in the graph, as newest upstream Guix does)."""

from __future__ import annotations

from pydantic import StrictBool, StrictStr

from corral.config._base import Record
from corral.config._fields import Labels, Name, Strings, field


class Network(Record):
    """An engine network (`<runtime> network create`)."""

    toml_name = "[network]"

    name: Name = field(doc="The network's name.")
    driver: StrictStr = field("bridge", doc="The network driver.")
    subnet: StrictStr | None = field(None, doc="Subnet in CIDR form, like `10.89.0.0/24`.")
    gateway: StrictStr | None = field(None, doc="Gateway address of the subnet.")
    ip_range: StrictStr | None = field(None, doc="Range containers' addresses are taken from.")
    ipv6: StrictBool = field(False, doc="Enable IPv6 on the network.")
    internal: StrictBool = field(False, doc="Restrict external access to the network.")
    labels: Labels = field(default_factory=dict, doc="Network labels.")
    extra_arguments: Strings = field((), doc="Strings passed to `network create` before the name.")


class Volume(Record):
    """An engine volume (`<runtime> volume create`); never deleted without
    `corral down --volumes`."""

    toml_name = "[volume]"

    name: Name = field(doc="The volume's name.")
    driver: StrictStr = field("local", doc="The volume driver.")
    labels: Labels = field(default_factory=dict, doc="Volume labels.")
    extra_arguments: Strings = field((), doc="Strings passed to `volume create` before the name.")
