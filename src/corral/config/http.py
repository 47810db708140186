"""``[http]``: the daemon's live status page and its Prometheus ``/metrics``.

Safe by default: the page binds loopback; any other address needs
``allow_remote = true``, and that needs ``tls_cert`` and ``tls_key``. These
rules are ``http_problems``: ``corral check`` reports them located, and the
daemon refuses to serve when they fail (``corral daemon --http ADDR`` too).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, StrictBool, StrictStr

from corral.config._base import Record
from corral.config._fields import fail, field, show

#: The page's address unless ``[http]`` says otherwise.
DEFAULT_LISTEN = "127.0.0.1:9847"


def split_listen(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` for IPv6) as (host, port); ``ValueError`` else."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{show(address)} is not an address like {DEFAULT_LISTEN}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"{show(address)} is not an address like [::1]:9847")
        host = host[1:-1]
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} of {show(address)} is not between 1 and 65535")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"{show(host)} in {show(address)} is not an IP address (or localhost)"
            ) from None
    return host, number


def is_loopback(host: str) -> bool:
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


def _listen(value: str) -> str:
    try:
        split_listen(value)
    except ValueError as error:
        raise fail(str(error)) from None
    return value


Listen = Annotated[StrictStr, AfterValidator(_listen)]


class Http(Record):
    """The daemon's live status page (`[http]`): a table of every service, a page
    per service with its log, the dependency graph, restart history, buttons,
    `/api/status` and Prometheus `/metrics`. Every request needs the token kept
    in `<state_dir>/web-token` (`corral dashboard` prints the URL with it),
    except `/healthz`. Read when the daemon starts."""

    toml_name = "[http]"
    default_change = "in_place"

    listen: Listen = field(
        DEFAULT_LISTEN,
        doc="`HOST:PORT` the page is served on (`[::1]:PORT` for IPv6). A loopback "
        "address unless allow_remote is set.",
    )
    allow_remote: StrictBool = field(
        False, doc="Allow a listen address other than loopback; needs tls_cert and tls_key."
    )
    tls_cert: StrictStr | None = field(
        None, doc="PEM certificate (chain) file: the page is served over HTTPS."
    )
    tls_key: StrictStr | None = field(None, doc="PEM private key file of tls_cert.")
    metrics_public: StrictBool = field(
        False, doc="Serve `/metrics` without the token (for a Prometheus that has none)."
    )


def http_problems(http: Http) -> list[tuple[str, str]]:
    """(field, message) for each rule ``http`` breaks; empty when it may be served."""
    problems: list[tuple[str, str]] = []
    host, _ = split_listen(http.listen)
    if not is_loopback(host) and not http.allow_remote:
        problems.append(
            (
                "listen",
                f"{show(http.listen)} is not a loopback address: the page would be reachable "
                "from other hosts; set allow_remote = true (with tls_cert and tls_key) or "
                f"listen on {DEFAULT_LISTEN}",
            )
        )
    if http.allow_remote and (http.tls_cert is None or http.tls_key is None):
        problems.append(
            (
                "allow_remote",
                "allow_remote = true needs tls_cert and tls_key: the token would cross "
                "the network in clear",
            )
        )
    if (http.tls_cert is None) != (http.tls_key is None):
        given, missing = ("tls_cert", "tls_key")
        if http.tls_cert is None:
            given, missing = missing, given
        problems.append((given, f"{given} needs {missing} too: they go together"))
    return problems
