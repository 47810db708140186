"""A tag's manifest digest, asked of the registry's HTTP API v2 — and, on
docker, of the engine when corral itself reaches no registry — with the same
credentials either way.

corral asks the registry itself: ``HEAD /v2/<name>/manifests/<tag>`` with the
``Accept`` of manifest lists, OCI indexes and both kinds of manifest, and reads
``Docker-Content-Digest``; a 401 is answered by its challenge (Basic, or a
Bearer token fetched from the realm with the login). Plain HTTP is used for
the hosts an engine treats as insecure (127.0.0.0/8, ``localhost``, ``::1``,
and those marked ``insecure`` in the ``registries.conf`` Podman reads), when
HTTPS fails there. The blocking HTTP (stdlib ``http.client``) runs in threads,
so many tags resolve at once. Where no registry answers corral, dockerd's
``GET /distribution/{name}/json`` (with ``X-Registry-Auth``) is asked: it
reaches registries through its own mirrors, certificates and proxy, and
answers the descriptor of the manifest (or manifest list) the tag names.
Podman 4.3's compatible API has no such call. (dockerd's call was the first
choice; it is the fallback because dockerd answers them one at a time, ~23 ms
each here, see ``resolve``.)

Every failure is a ``RegistryError`` of one line naming the image and the
registry: none answers, wrong credentials (401), no such tag (404).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import http.client
import ipaddress
import json
import os
import re
import ssl
import tomllib
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from corral.config.reference import Reference, ReferenceError, parse_reference
from corral.errors import CorralError

if TYPE_CHECKING:
    from corral.engine.client import Engine
    from corral.engine.credentials import Credential, Credentials

#: Seconds one registry request may take.
REQUEST_TIMEOUT = 30.0
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
REGISTRIES_CONF = "/etc/containers/registries.conf"
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(CorralError):
    """A registry could not say what a tag names."""


class Unreachable(RegistryError):
    """No registry answered corral's own request (dockerd may still reach it:
    through its mirrors, ``certs.d`` or proxy)."""


def reference_of(text: str) -> Reference:
    try:
        return parse_reference(text)
    except ReferenceError as error:
        raise RegistryError(str(error)) from None


def insecure_hosts(environ: Mapping[str, str] | None = None) -> set[str]:
    """The hosts marked ``insecure = true`` in the registries.conf Podman reads."""
    env = os.environ if environ is None else environ
    path = env.get("CONTAINERS_REGISTRIES_CONF") or REGISTRIES_CONF
    try:
        with open(path, "rb") as stream:
            document = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    out: set[str] = set()
    for entry in document.get("registry") or []:
        if isinstance(entry, dict) and entry.get("insecure") is True:
            out.add(str(entry.get("location") or entry.get("prefix") or ""))
    return out


def may_use_http(host: str, environ: Mapping[str, str] | None = None) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:
        pass
    return host in insecure_hosts(environ)


# -- through the engine ---------------------------------------------------------


def _engine_message(reference: str, registry: str, status: int, message: str) -> str:
    text = " ".join(message.split())
    low = text.lower()
    if status == 401 or any(
        f in low for f in ("unauthorized", "authentication required", "no basic auth")
    ):
        return f"{reference}: registry {registry} refused the login (401): {text}"
    if status == 404 or "manifest unknown" in low or "not found" in low:
        return f"{reference}: registry {registry} has no such tag or image (404): {text}"
    if any(f in low for f in ("connection refused", "no such host", "i/o timeout", "dial tcp")):
        return f"{reference}: no registry answers at {registry} ({text})"
    return f"{reference}: registry {registry}: {text}"


async def _by_engine(engine: Engine, reference: Reference, text: str, auth: dict[str, str]) -> str:
    from corral.engine.api import ApiError

    path = "/distribution/" + urllib.parse.quote(text, safe="/:@") + "/json"
    try:
        answer = await engine.api.get(path, headers=auth, timeout=REQUEST_TIMEOUT * 2)
    except ApiError as error:
        raise RegistryError(
            _engine_message(text, reference.domain, error.status, error.message)
        ) from None
    except OSError as error:
        raise RegistryError(f"{text}: {engine.endpoint}: {error}") from None
    digest = (
        ((answer or {}).get("Descriptor") or {}).get("digest") if isinstance(answer, dict) else None
    )
    if not isinstance(digest, str):
        raise RegistryError(f"{text}: {engine.runtime} did not say the manifest's digest")
    return digest


# -- the registry's own API --------------------------------------------------------


def _connection(scheme: str, host: str) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(host, timeout=REQUEST_TIMEOUT,
                                           context=ssl.create_default_context())  # fmt: skip
    return http.client.HTTPConnection(host, timeout=REQUEST_TIMEOUT)


def _request(url: str, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = _connection(parts.scheme, parts.netloc)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, headers=headers)
        response = connection.getresponse()
        body = response.read() if method != "HEAD" else b""
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def _token(challenge: str, credential: Credential | None, scope: str) -> str:
    """A Bearer token from the challenge's realm, with the login when there is one."""
    fields = dict(_CHALLENGE.findall(challenge))
    realm = fields.pop("realm", "")
    if not realm:
        raise RegistryError("the registry asked for a token without saying where from")
    fields.setdefault("scope", scope)
    url = realm + "?" + urllib.parse.urlencode(fields)
    headers = {"Authorization": credential.basic()} if credential is not None else {}
    status, _, body = _request(url, "GET", headers)
    if status == 401:
        raise _Refused()
    if status != 200:
        raise RegistryError(f"its token service answered {status}")
    try:
        document = json.loads(body)
        return str(document.get("token") or document["access_token"])
    except (ValueError, KeyError):
        raise RegistryError("its token service answered no token") from None


#: Per host, the scheme that answered, and whether its challenge was Basic: a
#: daemon's or a lock's later questions go straight there (this process only).
_SPOKEN: dict[str, str] = {}
_BASIC: set[str] = set()
#: Threads for the blocking requests: every tag of a lock is asked at once.
_POOL: concurrent.futures.ThreadPoolExecutor | None = None


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(32, thread_name_prefix="corral-registry")
    return _POOL


class _Refused(Exception):
    """A 401 after the login was offered."""


def _manifest_digest(reference: Reference, text: str, credential: Credential | None) -> str:
    """The blocking half of ``resolve`` for one reference."""
    host = reference.registry
    schemes = ["https", "http"] if may_use_http(host) else ["https"]
    if _SPOKEN.get(host) in schemes:  # what answered before goes first
        schemes.remove(_SPOKEN[host])
        schemes.insert(0, _SPOKEN[host])
    tag = reference.digest or reference.tag_or_latest
    last: Exception | None = None
    for scheme in schemes:
        url = f"{scheme}://{host}/v2/{reference.path}/manifests/{tag}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        if credential is not None and host in _BASIC:
            headers["Authorization"] = credential.basic()  # it asked for Basic before
        try:
            status, answer, _ = _request(url, "HEAD", headers)
            _SPOKEN[host] = scheme
            if status == 401:
                challenge = answer.get("www-authenticate", "")
                if challenge.lower().startswith("bearer"):
                    scope = f"repository:{reference.path}:pull"
                    headers["Authorization"] = "Bearer " + _token(challenge, credential, scope)
                elif credential is not None:
                    headers["Authorization"] = credential.basic()
                    _BASIC.add(host)
                else:
                    raise _Refused()
                status, answer, _ = _request(url, "HEAD", headers)
            if status == 401:
                raise _Refused()
            if status == 404:
                raise RegistryError(
                    f"{text}: registry {reference.domain} has no such tag or image (404)"
                )
            if status != 200:
                raise RegistryError(f"{text}: registry {reference.domain} answered {status}")
            digest = answer.get("docker-content-digest")
            if not digest:  # some registries only say it on GET: hash the manifest
                _, _, body = _request(url, "GET", headers)
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
            return digest
        except _Refused:
            who = (
                f"for {credential.username} ({credential.source})"
                if credential
                else "it asked for, and none is known for it"
            )
            raise RegistryError(
                f"{text}: registry {reference.domain} refused the login {who} (401)"
            ) from None
        except (ssl.SSLError, ConnectionResetError, http.client.BadStatusLine) as error:
            last = error  # plain HTTP where HTTPS was not spoken, when allowed
        except OSError as error:
            last = error
            if not isinstance(error, ssl.SSLError):
                break
    raise Unreachable(f"{text}: no registry answers at {reference.domain} ({last})")


async def resolve(
    engine: Engine | None, text: str, credentials: Credentials | None, *, direct: bool = True
) -> str:
    """The manifest digest ``text``'s tag names now: the registry's API first (one
    ``HEAD`` in a thread, ~5 ms here), then, on docker, dockerd's distribution
    call when corral itself reaches no registry (dockerd's takes ~23 ms, and
    dockerd answers them one at a time: 20 tags took 0.46 s however many were
    asked at once, against 0.11 s for the registry's own API). ``direct`` False:
    the engine only (its registry found unreachable before)."""
    reference = reference_of(text)
    if reference.digest is not None and engine is None:
        return reference.digest
    credential = await credentials.for_host(reference.domain) if credentials else None
    loop = asyncio.get_running_loop()
    try:
        if direct or engine is None:
            return await loop.run_in_executor(
                _pool(), _manifest_digest, reference, text, credential
            )
    except Unreachable:
        if engine is None or engine.runtime != "docker":
            raise
    auth = {"X-Registry-Auth": credential.header()} if credential is not None else {}
    return await _by_engine(engine, reference, text, auth)


#: Tags asked at once (the registry's threads, dockerd's calls).
AT_ONCE = 8


async def resolve_all(
    engine: Engine | None,
    texts: list[str],
    credentials: Credentials | None,
    *,
    direct: bool = True,
) -> dict[str, str | RegistryError]:
    """Each reference's digest (or what went wrong), ``AT_ONCE`` asked at a time."""
    bound = asyncio.Semaphore(AT_ONCE)

    async def one(text: str) -> str | RegistryError:
        try:
            async with bound:
                return await resolve(engine, text, credentials, direct=direct)
        except RegistryError as error:
            return error

    # one tag per host first learns its scheme and challenge, so the others each
    # take one request
    firsts: dict[str, str] = {}
    for text in texts:
        with contextlib.suppress(RegistryError):
            firsts.setdefault(reference_of(text).registry, text)
    answers = await asyncio.gather(*(one(t) for t in firsts.values()))
    found: dict[str, str | RegistryError] = dict(zip(firsts.values(), answers, strict=True))
    rest = [t for t in texts if t not in found]
    answers = await asyncio.gather(*(one(t) for t in rest))
    found.update(zip(rest, answers, strict=True))
    return {t: found[t] for t in texts}
