"""Dockerfile builds through the engine's build API (``POST /build``).

An image record with ``build`` is built by the engine: its context (the files
``.dockerignore`` lets through, ``image.buildcontext``) streamed as a tar into
``POST /build`` as it is written, the answer's JSON stream read line by line.
dockerd 20.10 and Podman 4.3's compatible API take the same request (seen on
both: ``t``, ``dockerfile``, ``buildargs``, ``labels``, ``target``, ``pull``,
``rm``, ``forcerm``) and answer alike — ``stream`` lines (``Step 2/5 : COPY …``
from docker's classic builder, ``STEP 2/5: COPY …`` from Buildah), an
``aux.ID``, an ``error`` when a step fails — so one module serves both.

The build is skipped when the digest cache knows the image this context's
content digest, Dockerfile and parameters built on this engine, and the engine
still has it under the record's name (or under another: then it is tagged).
A base that is another image record (``FROM repository:tag`` of a record) is
made present first (``bases``). A rebuilt image's predecessor is removed when
nothing else holds it (no orphan ``<none>`` images); a failed build leaves no
container (``forcerm``). A failure is one line naming the image and the step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from corral.engine.api import ApiError, Upload, json_stream
from corral.engine.feed import written_by
from corral.errors import CorralError, ImageError

if TYPE_CHECKING:
    from corral.config.image import OciImage
    from corral.engine.client import Engine
    from corral.engine.images import ImageStore

#: Seconds a build may take.
BUILD_TIMEOUT = 3600.0
#: The start of a step, as docker's classic builder and Buildah say it.
_STEP = re.compile(r"^(?:Step|STEP) (\d+/\d+) ?: ?(.*)$")
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)

#: What a build's output goes to, a line at a time (text with its newline).
Output = Callable[[str], None]
#: Makes the image record named by a reference present (a base image).
Bases = Callable[[str], Awaitable[None]]


def base_references(dockerfile_text: str) -> list[str]:
    """The images a Dockerfile's ``FROM`` lines name (not ``scratch``, not a stage)."""
    stages: set[str] = set()
    out: list[str] = []
    for line in dockerfile_text.splitlines():
        match = _FROM.match(line)
        if match is None:
            continue
        name = match.group(1)
        alias = re.search(r"\s+AS\s+(\S+)\s*$", line, re.IGNORECASE)
        if name.lower() != "scratch" and name not in stages and "$" not in name:
            out.append(name)
        if alias:
            stages.add(alias.group(1))
    return out


def build_key(runtime: str, socket: str, reference: str, context_digest: str) -> str:
    """The digest cache's key for what a build of this context made on this engine."""
    said = f"corral dockerfile build v1\0{runtime}\0{socket}\0{reference}\0{context_digest}"
    return hashlib.sha256(said.encode()).hexdigest()


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


async def build(
    engine: Engine,
    store: ImageStore,
    image: OciImage,
    *,
    state_dir: str | None,
    output: Output | None = None,
    bases: Bases | None = None,
    force: bool = False,
) -> tuple[str, bool]:
    """``image`` (a record with ``build``, its context absolute) built on ``engine``
    unless unchanged since its last build there; ``(image ID, built)``. Output
    lines go to ``output``; ``force`` builds even when unchanged."""
    from corral.image.buildcontext import read_context, write_context
    from corral.image.digests import DigestCache

    spec = image.build
    assert spec is not None
    reference = image.reference
    cache = DigestCache(state_dir) if state_dir is not None else None
    context = await asyncio.to_thread(read_context, spec, cache)
    key = build_key(engine.runtime, engine.endpoint.socket, reference, context.digest)
    known = cache.recall(key) if cache is not None else None
    before = await store.image_id(reference)
    if known is not None and not force:
        if before == known:
            return known, False
        if await store.image_id(known) == known:
            await store.tag(known, reference)
            return known, False
    if bases is not None:
        dockerfile = os.path.join(spec.context, spec.dockerfile)
        try:
            with open(dockerfile, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as error:
            raise ImageError(f"{reference}: {dockerfile}: {error.strerror}") from None
        for base in base_references(text):
            await bases(base)
    params: dict[str, str | bool | None] = {
        "t": reference,
        "dockerfile": spec.dockerfile,
        "buildargs": json.dumps(spec.args) if spec.args else None,
        "labels": json.dumps(spec.labels) if spec.labels else None,
        "target": spec.target,
        "pull": True if spec.pull else None,
        "rm": True,
        "forcerm": True,
    }
    upload = Upload(written_by(lambda fh: write_context(context, fh), "corral-context"))
    built = await _post(engine, reference, params, upload, output)
    made = await store.image_id(reference) or built
    if made is None:
        raise ImageError(f"{reference}: the build said nothing of the image it made")
    if cache is not None:
        cache.keep(key, made)
    if before is not None and before != made:
        with contextlib.suppress(CorralError):  # still used (a container, another tag)
            await _remove_unused(engine, before)
    return made, True


async def _post(
    engine: Engine,
    reference: str,
    params: dict[str, str | bool | None],
    upload: Upload,
    output: Output | None,
) -> str | None:
    """Send the build; the image ID its answer names. A failed step is an
    ``ImageError`` naming the image, the step and what the engine said."""
    step = ""
    built: str | None = None
    pending = ""  # docker's classic builder ends a step's line in a second event
    try:
        async with asyncio.timeout(BUILD_TIMEOUT):
            request = engine.api.stream("POST", "/build", params, upload=upload)
            async with request as response:
                async for event in json_stream(response):
                    if event.get("error"):
                        where = f" at step {step}" if step else ""
                        detail = _one_line(str(event["error"]))
                        raise ImageError(f"{reference}: build failed{where}: {detail}")
                    aux = event.get("aux")
                    if isinstance(aux, dict) and aux.get("ID"):
                        built = str(aux["ID"])
                    text = event.get("stream")
                    if not isinstance(text, str):
                        continue
                    pending += text
                    while "\n" in pending:
                        line, pending = pending.split("\n", 1)
                        found = _STEP.match(line.strip())
                        if found:
                            step = f"{found.group(1)} ({found.group(2).strip()})"
                        if output is not None:
                            output(line + "\n")
    except TimeoutError:
        raise ImageError(f"{reference}: build not done within {BUILD_TIMEOUT:g}s") from None
    except (ApiError, OSError) as error:
        detail = error.message if isinstance(error, ApiError) else str(error)
        where = f" at step {step}" if step else ""
        raise ImageError(f"{reference}: build failed{where}: {_one_line(detail)}") from None
    if pending and output is not None:
        output(pending + "\n")
    return built


async def _remove_unused(engine: Engine, image_id: str) -> None:
    """Remove image ``image_id`` when no name and no container holds it, and then
    each of its build's intermediate parents no name holds (dockerd removes
    those itself; Podman keeps them as dangling images)."""
    from corral.engine.api import path_of

    current: str | None = image_id
    while current:
        try:
            data = await engine.api.get(path_of("images", current, "json"))
        except ApiError:
            return
        tags = [t for t in (data or {}).get("RepoTags") or [] if t and "<none>" not in t]
        if tags:
            return
        try:
            await engine.api.delete(path_of("images", current), {"noprune": False})
        except ApiError as error:
            if error.status in (404, 409):  # gone, or still used: its parents are too
                return
            raise ImageError(f"remove {current}: {error.message}") from error
        current = str((data or {}).get("Parent") or "") or None
