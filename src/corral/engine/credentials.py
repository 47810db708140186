"""Registry credentials: where they come from, and the one form they leave in.

For a registry host, the first of these that knows it gives the login:

1. a ``[[registry]]`` record naming the host: its ``username``, and the password
   read from its ``password_file`` or printed by its ``password_command``;
2. the user's own files, in the engine's order — docker: ``$DOCKER_CONFIG/config.json``
   (default ``~/.docker/config.json``), then Podman's; podman: ``$REGISTRY_AUTH_FILE``,
   ``$XDG_RUNTIME_DIR/containers/auth.json`` (``/run/containers/0/auth.json`` for
   root), then Docker's. In a file: ``credHelpers[host]``, else ``auths[host].auth``
   (base64 ``user:password``), else ``credsStore``; a helper is run as
   ``docker-credential-NAME get`` with the host on its standard input.

A credential leaves corral only as the Engine API's ``X-Registry-Auth`` header
(``header()``: base64url JSON) or a registry's ``Authorization`` header: never
an argv, an environment, a log line, a status, an error. ``Credential``'s repr
hides the password; errors name the host and the file, never a value.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from corral.config.reference import DOCKER_HUB, DOCKER_HUB_API
from corral.config.registry import Registry
from corral.errors import CommandError, CorralError
from corral.runtimes import Runtime

log = logging.getLogger("corral.engine")

#: Seconds a password command or credential helper may take.
HELPER_TIMEOUT = 30.0
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", DOCKER_HUB, DOCKER_HUB_API)


class CredentialError(CorralError):
    """A login could not be read (the message names its source, never a value)."""


@dataclass(frozen=True)
class Credential:
    """A login for ``server``; ``source`` says where it was found (for messages)."""

    server: str
    username: str
    password: str = field(repr=False)
    source: str = ""

    def header(self) -> str:
        """The Engine API's ``X-Registry-Auth`` value: base64url of its JSON."""
        document = {"username": self.username, "password": self.password,
                    "serveraddress": self.server}  # fmt: skip
        return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()

    def basic(self) -> str:
        """An HTTP ``Authorization: Basic`` value."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def _keys_for(host: str) -> tuple[str, ...]:
    """The keys an auth file may file ``host`` under."""
    if host in (DOCKER_HUB, DOCKER_HUB_API, "index.docker.io"):
        return _HUB_KEYS
    return (host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/")


def auth_files(runtime: Runtime, environ: Mapping[str, str] | None = None) -> list[str]:
    """The user's auth files, in the order ``runtime``'s own tools read them."""
    env = os.environ if environ is None else environ
    home = env.get("HOME") or os.path.expanduser("~")
    docker = [
        os.path.join(env.get("DOCKER_CONFIG") or os.path.join(home, ".docker"), "config.json")
    ]
    podman: list[str] = []
    if env.get("REGISTRY_AUTH_FILE"):
        podman.append(env["REGISTRY_AUTH_FILE"])
    else:
        runtime_dir = env.get("XDG_RUNTIME_DIR") or (
            "/run/containers/0" if os.geteuid() == 0 else f"/run/user/{os.geteuid()}"
        )
        podman.append(
            os.path.join(runtime_dir, "auth.json")
            if runtime_dir.startswith("/run/containers")
            else os.path.join(runtime_dir, "containers", "auth.json")
        )
    return docker + podman if runtime == "docker" else podman + docker


async def _run_for_secret(argv: Sequence[str], stdin: bytes | None, what: str) -> str:
    """The standard output of ``argv`` (its output is a secret: never in an error)."""
    from corral.engine.runner import Invocation, run_cli

    read_end: int | None = None
    if stdin is not None:
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, stdin)
        finally:
            os.close(write_end)
    try:
        done = await run_cli(argv, Invocation(timeout=HELPER_TIMEOUT, stdin_fd=read_end))
    except CommandError as error:
        raise CredentialError(
            f"{what}: {argv[0]} failed (exit {error.returncode}); its output is not shown"
        ) from None
    return done.stdout


async def from_record(registry: Registry) -> Credential:
    """The login a ``[[registry]]`` record gives."""
    what = f"registry {registry.host}"
    if registry.password_file is not None:
        try:
            with open(registry.password_file, encoding="utf-8") as stream:
                password = stream.read()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            raise CredentialError(
                f"{what}: cannot read {registry.password_file}: {reason}"
            ) from None
        source = registry.password_file
    else:
        password = await _run_for_secret(registry.password_command, None, what)
        source = f"password_command {registry.password_command[0]}"
    password = password.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CredentialError(f"{what}: {source} gives an empty password")
    return Credential(registry.host, registry.username, password, source)


async def from_helper(helper: str, host: str, source: str) -> Credential | None:
    """What ``docker-credential-HELPER get`` says for ``host`` (None: it has none)."""
    program = f"docker-credential-{helper}"
    try:
        said = await _run_for_secret([program, "get"], host.encode(), f"{source}: {program}")
    except CredentialError:
        return None  # "credentials not found in native keychain" exits 1, like no entry
    try:
        document = json.loads(said)
        return Credential(host, str(document["Username"]), str(document["Secret"]), source)
    except (ValueError, KeyError, TypeError):
        raise CredentialError(
            f"{source}: {program} answered something that is not its JSON"
        ) from None


async def from_file(path: str, host: str) -> Credential | None:
    """The login ``path`` (a config.json or auth.json) has for ``host``."""
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("%s: not read: %s", path, getattr(error, "strerror", None) or "not JSON")
        return None
    if not isinstance(document, dict):
        return None
    keys = _keys_for(host)
    helpers = document.get("credHelpers") or {}
    for key in keys:
        if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
            return await from_helper(helpers[key], host, path)
    auths = document.get("auths") or {}
    for key in keys:
        entry = auths.get(key) if isinstance(auths, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialError(
                    f"{path}: auths[{key}].auth is not base64 user:password"
                ) from None
            return Credential(host, user, password, path)
    store = document.get("credsStore")
    if isinstance(store, str) and store:
        return await from_helper(store, host, path)
    return None


@dataclass
class Credentials:
    """The logins of one configuration, looked up by host (each once per
    instance: a file or helper is read again by a new instance)."""

    registries: tuple[Registry, ...]
    runtime: Runtime
    environ: Mapping[str, str] | None = None
    _found: dict[str, asyncio.Future[Credential | None]] = field(default_factory=dict, repr=False)

    async def for_host(self, host: str) -> Credential | None:
        """``host``'s login, looked up once however many ask at once (a lock's
        tags run one ``password_command``, not one each)."""
        if host not in self._found:
            self._found[host] = asyncio.ensure_future(self._look_up(host))
        return await asyncio.shield(self._found[host])

    async def _look_up(self, host: str) -> Credential | None:
        hub = host in (DOCKER_HUB, DOCKER_HUB_API, "index.docker.io")
        for registry in self.registries:
            if registry.host == host or (hub and registry.host in _HUB_KEYS):
                return await from_record(registry)
        for path in auth_files(self.runtime, self.environ):
            found = await from_file(path, host)
            if found is not None:
                return found
        return None

    async def header_for(self, host: str) -> dict[str, str]:
        """``{"X-Registry-Auth": …}`` for ``host``, or no header when no login is known."""
        found = await self.for_host(host)
        return {"X-Registry-Auth": found.header()} if found is not None else {}
