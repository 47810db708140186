"""Pull an image over the Engine API (``POST /images/create?fromImage=…``), with
a readable error when no registry answers (this machine has none).

The engine reports a failed pull in one of two ways: dockerd with an error
status and its message, Podman's compatible API with ``200`` and an
``error`` object in the JSON progress stream; both are a ``PullError``.
Podman's compatible API reads a short name as Docker does
(``docker.io/library/NAME``), so the message names it that way for both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from corral.engine.api import ApiError, TransportError, json_stream
from corral.engine.client import EngineError

if TYPE_CHECKING:
    from corral.engine.client import Engine

log = logging.getLogger("corral.engine")

#: Seconds a pull may take.
PULL_TIMEOUT = 600.0
#: Fragments of the engines' errors that mean "no registry could be reached".
UNREACHABLE = (
    "dial tcp",
    "no such host",
    "connection refused",
    "i/o timeout",
    "network is unreachable",
    "temporary failure in name resolution",
    "tls handshake timeout",
    "pinging container registry",
    "no route to host",
)


class PullError(EngineError):
    """An image could not be pulled."""


def qualified_reference(reference: str) -> str:
    """``busybox`` → ``docker.io/library/busybox:latest`` (as Docker reads it)."""
    name, digest = reference, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        digest = "@" + digest
    first, slash, _ = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if slash else f"docker.io/library/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    return name + digest


def split_reference(reference: str) -> tuple[str, str]:
    """``(name, tag or digest)`` of a reference, the tag ``latest`` when it has
    none: the ``fromImage`` and ``tag`` of a pull (an empty tag would pull
    every tag of the repository)."""
    if "@" in reference:
        name, digest = reference.split("@", 1)
        if ":" in name.rsplit("/", 1)[-1]:
            name = name.rsplit(":", 1)[0]  # name:tag@digest: the digest decides
        return name, digest
    if ":" in reference.rsplit("/", 1)[-1]:
        name, tag = reference.rsplit(":", 1)
        return name, tag
    return reference, "latest"


def pull_error_message(reference: str, detail: str) -> str:
    """A one-line message for a failed pull of ``reference``, the engine having
    said ``detail``; secrets were redacted already."""
    lines = [ln.strip() for ln in detail.strip().splitlines() if ln.strip()]
    detail = lines[-1] if lines else "the engine gave no reason"
    detail = detail.removeprefix("Error: ").removeprefix("Error response from daemon: ")
    what = qualified_reference(reference)
    if any(fragment in detail.lower() for fragment in UNREACHABLE):
        return f"pull {what}: no registry answered ({detail})"
    low = detail.lower()
    if any(f in low for f in ("unauthorized", "authentication required", "no basic auth", "401")):
        return f"pull {what}: the registry refused the login (401): {detail}"
    return f"pull {what}: {detail}"


#: What receives each progress event of a pull or push (``{"id", "status",
#: "progressDetail": {"current", "total"}}``), for bars on a terminal.
OnProgress = Callable[[dict[str, Any]], None]


async def pull(
    engine: Engine,
    reference: str,
    *,
    timeout: float = PULL_TIMEOUT,
    auth: Mapping[str, str] | None = None,
    progress: OnProgress | None = None,
) -> None:
    """Pull ``reference`` into ``engine`` (its progress read to the end, each event
    given to ``progress``); ``auth``: the ``X-Registry-Auth`` header, when a login
    is known. ``PullError`` on failure."""
    from corral.engine.transfers import Transfer

    name, tag = split_reference(reference)
    params = {"fromImage": name, "tag": tag}
    transfer = Transfer(engine.transfers, "pull", reference)
    last = ""
    try:
        try:
            async with asyncio.timeout(timeout):
                request = engine.api.stream("POST", "/images/create", params, headers=auth)
                async with request as response:
                    async for event in json_stream(response):
                        if event.get("error"):
                            raise PullError(pull_error_message(reference, str(event["error"])))
                        transfer.event(event)
                        if progress is not None:
                            progress(event)
                        last = str(event.get("status") or last)
        except ApiError as exc:
            raise PullError(pull_error_message(reference, exc.message)) from exc
        except TransportError as exc:
            raise PullError(pull_error_message(reference, str(exc))) from exc
        except TimeoutError:
            what = qualified_reference(reference)
            raise PullError(f"pull {what}: not done within {timeout:g}s") from None
        except OSError as exc:  # no engine at its socket
            what = qualified_reference(reference)
            raise PullError(f"pull {what}: {engine.endpoint}: {exc}") from exc
    except PullError as error:
        transfer.end(str(error))
        raise
    except BaseException:
        transfer.end("cancelled")
        raise
    transfer.end()
    log.debug("pulled %s into %s: %s", reference, engine.endpoint, last)


class PushError(EngineError):
    """An image could not be pushed."""


#: ``X-Registry-Auth`` when no login is known: dockerd's push refuses a request
#: without the header.
NO_AUTH = {"X-Registry-Auth": "e30="}


async def push(
    engine: Engine,
    reference: str,
    *,
    timeout: float = PULL_TIMEOUT,
    auth: Mapping[str, str] | None = None,
    progress: OnProgress | None = None,
) -> str | None:
    """Push ``reference`` (``repository:tag``) from ``engine`` to its registry
    (``POST /images/{name}/push``); the manifest digest the engine reports,
    when it does. ``PushError`` on failure, naming the reference."""
    from corral.engine.api import path_of
    from corral.engine.transfers import Transfer

    name, tag = split_reference(reference)
    digest: str | None = None
    what = f"push {reference}"
    transfer = Transfer(engine.transfers, "push", reference)
    try:
        try:
            async with asyncio.timeout(timeout):
                request = engine.api.stream(
                    "POST", path_of("images", name, "push"), {"tag": tag},
                    headers=auth or NO_AUTH,
                )  # fmt: skip
                async with request as response:
                    async for event in json_stream(response):
                        if event.get("error"):
                            raise PushError(
                                pull_error_message(reference, str(event["error"])).replace(
                                    f"pull {qualified_reference(reference)}", what
                                )
                            )
                        transfer.event(event)
                        if progress is not None:
                            progress(event)
                        aux = event.get("aux")
                        if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                            digest = aux["Digest"]
                        status = str(event.get("status") or "")
                        if "digest: sha256:" in status:
                            digest = status.split("digest: ", 1)[1].split()[0]
        except ApiError as exc:
            raise PushError(f"{what}: {' '.join(exc.message.split())}") from exc
        except TransportError as exc:
            raise PushError(f"{what}: {exc}") from exc
        except TimeoutError:
            raise PushError(f"{what}: not done within {timeout:g}s") from None
        except OSError as exc:
            raise PushError(f"{what}: {engine.endpoint}: {exc}") from exc
    except PushError as error:
        transfer.end(str(error))
        raise
    except BaseException:
        transfer.end("cancelled")
        raise
    transfer.digest = digest or transfer.digest
    transfer.end()
    log.debug("pushed %s from %s: %s", reference, engine.endpoint, digest)
    return digest
