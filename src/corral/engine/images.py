"""Make an image present on an engine: the one door for images, over the Engine API.

``present`` is what a container's start calls (once per image, however many
containers share it: the runner wraps it in ``EngineHub.once``), and
``corral image load`` at the terminal:

* an image record built by corral has its layers hashed first
  (``digest_image``, the digests of unchanged files read from the cache in
  the state directory), which gives the image ID without writing anything.
  When the engine has that ID under the image's reference, that is all;
  when it has the ID under another name, it is tagged; otherwise the archive
  is streamed into ``POST /images/load`` as the builder writes it (in a
  thread, through a pipe: ``feed.written_by``), never written to a file.
  Into docker, a big base layer goes first by import (``import_then_load``);
* a ``tarball`` image is loaded from its file, with the same decisions;
* an image named by a string is inspected, and pulled when missing
  (``pull.pull``).

The decisions are written once, against an ``ImageStore`` (what they need of
an engine); ``EngineImages`` is that store on an engine's API, and tests
hand the decisions a fake one. Podman 4.3's compatible API takes the same
requests as dockerd 20.10 (``/images/load`` chunked, tag, inspect by name or
ID, ``/images/create``); it answers a failed load with an error status where
dockerd puts an ``error`` in the answer's stream, and both are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from corral.engine.api import ApiError, Upload, json_stream, path_of
from corral.engine.feed import written_by
from corral.engine.pull import pull
from corral.errors import CorralError, ImageError

if TYPE_CHECKING:
    # the builder is imported when an image record is loaded, not before: a
    # daemon whose images are all named by strings never pays for it
    from corral.config.image import OciImage
    from corral.config.registry import PullPolicy
    from corral.engine.build import Bases
    from corral.engine.build import Output as BuildOutput
    from corral.engine.client import Engine
    from corral.engine.credentials import Credentials
    from corral.image.build import Digested
    from corral.runtimes import Runtime

#: Seconds a load (or an import) may take.
LOAD_TIMEOUT = 1800.0
#: A base layer this big (or bigger) goes into docker by import (``import_then_load``).
IMPORT_AT = 32 << 20
_LOADED = re.compile(r"^Loaded image(?:\(s\))?( ID)?:\s*(.+?)\s*$", re.MULTILINE)

#: ``(names, image IDs)`` an engine says it loaded.
Loaded = tuple[list[str], list[str]]


def normal_id(value: str) -> str:
    value = value.strip()
    return value if value.startswith("sha256:") else f"sha256:{value}"


def parse_loaded(output: str) -> Loaded:
    """``(names, image IDs)`` from what a load answered (``Loaded image: …``)."""
    names: list[str] = []
    ids: list[str] = []
    for match in _LOADED.finditer(output):
        values = [v.strip() for v in match.group(2).split(",") if v.strip()]
        (ids if match.group(1) else names).extend(values)
    return names, ids


def split_tag(reference: str) -> tuple[str, str]:
    """``(repository, tag)`` of ``reference``; the tag ``latest`` when it has none."""
    if ":" in reference.rsplit("/", 1)[-1]:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, "latest"


class ImageStore(Protocol):
    """What the decisions need of an engine's images."""

    @property
    def runtime(self) -> Runtime: ...

    async def image_id(self, reference: str) -> str | None:
        """The ID the engine has under ``reference`` (a name or an ID), or None."""
        ...

    async def layers(self, image_id: str) -> list[str]:
        """The diff IDs of image ``image_id``'s layers."""
        ...

    async def tag(self, image_id: str, reference: str) -> None: ...

    async def load(self, archive: Upload) -> Loaded:
        """Load the archive ``archive`` carries; what the engine says it loaded."""
        ...

    async def import_layer(self, layer: Upload) -> str:
        """Import the bare layer tar ``layer`` carries as an image; its ID."""
        ...

    async def remove(self, image_id: str) -> None:
        """Remove image ``image_id`` (one already gone is fine)."""
        ...

    async def pull(self, reference: str) -> None: ...

    async def repo_digests(self, reference: str) -> list[str]:
        """The manifest digests the engine knows image ``reference`` by."""
        ...

    async def registry_digest(self, reference: str) -> str:
        """The digest the registry's tag names now (``RegistryError``)."""
        ...


class EngineImages:
    """``ImageStore`` over one engine's API; ``credentials``: the logins pulls
    and registry questions use."""

    def __init__(self, engine: Engine, credentials: Credentials | None = None) -> None:
        self.engine = engine
        self.credentials = credentials

    @property
    def runtime(self) -> Runtime:
        return self.engine.runtime

    def _failed(self, what: str, error: Exception) -> ImageError:
        detail = error.message if isinstance(error, ApiError) else str(error)
        return ImageError(f"{self.engine.endpoint}: {what}: {detail}")

    async def image_id(self, reference: str) -> str | None:
        try:
            data = await self.engine.api.get(path_of("images", reference, "json"))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise self._failed(f"inspect {reference}", exc) from exc
        except OSError as exc:
            raise self._failed(f"inspect {reference}", exc) from exc
        return normal_id(str(data["Id"])) if isinstance(data, dict) and data.get("Id") else None

    async def layers(self, image_id: str) -> list[str]:
        try:
            data = await self.engine.api.get(path_of("images", image_id, "json"))
        except (ApiError, OSError) as exc:
            raise self._failed(f"inspect {image_id}", exc) from exc
        return [str(layer) for layer in ((data or {}).get("RootFS") or {}).get("Layers") or []]

    async def tag(self, image_id: str, reference: str) -> None:
        repository, tag = split_tag(reference)
        params = {"repo": repository, "tag": tag}
        try:
            await self.engine.api.post(path_of("images", image_id, "tag"), params)
        except (ApiError, OSError) as exc:
            raise self._failed(f"tag {image_id} {reference}", exc) from exc

    async def _progress(self, what: str, path: str, params: dict[str, Any], upload: Upload) -> str:
        """Send ``upload`` to ``path``; the ``stream`` texts of its answer, or the
        last ``status`` for ``status``-only answers. An ``error`` in the answer
        is an ``ImageError``; the producer's own error is raised as it is."""
        texts: list[str] = []
        try:
            async with asyncio.timeout(LOAD_TIMEOUT):
                request = self.engine.api.stream("POST", path, params, upload=upload)
                async with request as response:
                    async for event in json_stream(response):
                        if event.get("error"):
                            raise ImageError(f"{self.engine.endpoint}: {what}: {event['error']}")
                        if "stream" in event:
                            texts.append(str(event["stream"]))
                        elif event.get("status"):
                            texts = [str(event["status"])]
        except TimeoutError:
            raise ImageError(
                f"{self.engine.endpoint}: {what}: not done within {LOAD_TIMEOUT:g}s"
            ) from None
        except (ApiError, OSError) as exc:  # TransportError among them
            raise self._failed(what, exc) from exc
        return "\n".join(texts)

    async def load(self, archive: Upload) -> Loaded:
        said = await self._progress("load", "/images/load", {"quiet": True}, archive)
        return parse_loaded(said)

    async def import_layer(self, layer: Upload) -> str:
        said = await self._progress("import", "/images/create", {"fromSrc": "-"}, layer)
        if not said.strip().startswith("sha256:"):
            raise ImageError(f"{self.engine.endpoint}: import said nothing about its image")
        return said.strip()

    async def remove(self, image_id: str) -> None:
        try:
            await self.engine.api.delete(path_of("images", image_id))
        except ApiError as exc:
            if exc.status != 404:
                raise self._failed(f"remove {image_id}", exc) from exc
        except OSError as exc:
            raise self._failed(f"remove {image_id}", exc) from exc

    async def _auth(self, reference: str) -> dict[str, str]:
        if self.credentials is None:
            return {}
        from corral.engine.registry import reference_of

        return await self.credentials.header_for(reference_of(reference).domain)

    async def pull(self, reference: str) -> None:
        await pull(self.engine, reference, auth=await self._auth(reference))

    async def repo_digests(self, reference: str) -> list[str]:
        try:
            data = await self.engine.api.get(path_of("images", reference, "json"))
        except (ApiError, OSError) as exc:
            raise self._failed(f"inspect {reference}", exc) from exc
        return [str(d).rsplit("@", 1)[-1] for d in (data or {}).get("RepoDigests") or []]

    async def repo_digests_of(self, reference: str) -> list[str]:
        """``repository@digest`` for each name the engine knows the image by."""
        try:
            data = await self.engine.api.get(path_of("images", reference, "json"))
        except (ApiError, OSError) as exc:
            raise self._failed(f"inspect {reference}", exc) from exc
        return [str(d) for d in (data or {}).get("RepoDigests") or []]

    async def registry_digest(self, reference: str) -> str:
        from corral.engine.registry import resolve

        return await resolve(self.engine, reference, self.credentials)


# -- the decisions -------------------------------------------------------------


async def ensure(
    store: ImageStore,
    reference: str,
    wanted: str,
    load: Callable[[], Awaitable[Loaded]],
    *,
    source: str,
) -> str:
    """Make ``store`` hold image ``wanted`` as ``reference``: nothing when it does,
    a tag when it has the ID under another name, else ``load()`` (what the load
    said, about ``source``) and a tag if needed; verified. The image ID."""
    runtime = store.runtime
    if await store.image_id(reference) == wanted:
        return wanted
    if await store.image_id(wanted) != wanted:
        names, ids = await load()
        if ids and normal_id(ids[0]) != wanted:
            raise ImageError(f"{source}: {runtime} loaded {normal_id(ids[0])}, not {wanted}")
        if not names and not ids:
            raise ImageError(f"{source}: {runtime} load said nothing about what it loaded")
    got = await store.image_id(reference)
    if got != wanted:
        await store.tag(wanted, reference)
        got = await store.image_id(reference)
    if got != wanted:
        raise ImageError(f"{reference}: {runtime} has {got} under this name, not {wanted}")
    return wanted


def file_upload(path: str) -> Upload:
    """The file ``path`` as a request body (its size is ``Content-Length``)."""
    size = os.path.getsize(path)

    def copy(fh: BinaryIO) -> None:
        with open(path, "rb") as source:
            shutil.copyfileobj(source, fh, 1 << 20)

    return Upload(written_by(copy, "corral-tarball"), size=size)


async def load_archive(
    store: ImageStore, path: str, reference: str, *, image_id: str | None = None
) -> str:
    """Load the archive file ``path`` as ``reference`` unless already there; the image ID."""
    from corral.image.inspect import archive_image_id

    wanted = image_id or archive_image_id(path)
    return await ensure(
        store, reference, wanted, lambda: store.load(file_upload(path)), source=path
    )


async def load_digested(
    store: ImageStore, digested: Digested, *, import_at: int = IMPORT_AT
) -> str:
    """Load a hashed image unless already there, its archive streamed as it is
    written; the image ID. Into docker, a base layer of ``import_at`` bytes or
    more goes in first by import (``import_then_load``)."""
    layers = digested.documents.layers

    async def load() -> Loaded:
        if store.runtime == "docker" and layers and layers[0][1] >= import_at:
            return await import_then_load(store, digested)
        return await store.load(Upload(written_by(digested.stream, "corral-archive")))

    reference = digested.image.reference
    return await ensure(store, reference, digested.image_id, load, source=reference)


async def import_then_load(store: ImageStore, digested: Digested) -> Loaded:
    """Load into docker with the base layer streamed straight into its layer store.

    dockerd's load first unpacks its whole input into a temporary directory and
    only then applies each layer, so every byte of a big layer is unpacked twice.
    Its import (``/images/create?fromSrc=-``) applies one bare layer tar as it
    arrives. So the base layer goes in by import (it lands under the same diff
    ID, docker's layer IDs being content addresses), with its exact size as
    ``Content-Length`` (a layer cut short, a file having changed, is a cut body
    to dockerd, which then registers nothing); the load then gets the archive
    without that blob: docker finds the layer in its store and does not look
    for the file. The image the import made is removed whatever happens; the
    loaded image keeps the layer. What the load said."""
    base = digested.documents.layers[0][0]
    reference = digested.image.reference

    def layer(fh: BinaryIO) -> None:
        digested.stream_layer(fh, 1)

    def slim(fh: BinaryIO) -> None:
        digested.stream(fh, held={1})

    imported = await store.import_layer(
        Upload(written_by(layer, "corral-layer"), size=digested.layer_size(1))
    )
    try:
        got = (await store.layers(imported) or [""])[0]
        if got != base:
            raise ImageError(f"{reference}: docker import made layer {got}, not {base}")
        return await store.load(Upload(written_by(slim, "corral-archive")))
    finally:
        with contextlib.suppress(CorralError):
            await store.remove(imported)


async def load_tarball(store: ImageStore, image: OciImage, base_dir: str | None) -> str:
    """Load ``image.tarball`` as ``image.reference`` unless already there; the image ID."""
    from corral.image.inspect import archive_image_id

    assert image.tarball is not None
    tarball = image.tarball
    if base_dir is not None and not os.path.isabs(tarball):
        tarball = os.path.join(base_dir, tarball)
    if not os.path.isfile(tarball):
        raise ImageError(f"image.tarball: {tarball} does not exist")
    try:
        wanted: str | None = archive_image_id(tarball)
    except ImageError:
        wanted = None  # an OCI-only or legacy archive: let the engine say
    if wanted is not None:
        return await load_archive(store, tarball, image.reference, image_id=wanted)
    names, ids = await store.load(file_upload(tarball))
    loaded = normal_id(ids[0]) if ids else None
    if loaded is None and names:
        loaded = await store.image_id(names[0])
    if loaded is None:
        raise ImageError(f"image.tarball: {store.runtime} load of {tarball} gave no image")
    await store.tag(loaded, image.reference)
    return loaded


async def present_in(
    store: ImageStore,
    image: str | OciImage,
    *,
    state_dir: str | None = None,
    base_dir: str | None = None,
    import_at: int = IMPORT_AT,
    policy: PullPolicy = "missing",
    notes: list[str] | None = None,
    output: BuildOutput | None = None,
    bases: Bases | None = None,
) -> str:
    """``present``'s decisions, on any ``ImageStore``."""
    if isinstance(image, str):
        return await present_reference(store, image, policy, notes)
    if image.tarball is not None:
        return await load_tarball(store, image, base_dir)
    if image.build is not None:
        if not isinstance(store, EngineImages):
            raise ImageError(f"{image.reference}: a Dockerfile build needs an engine")
        from corral.engine.build import build

        if base_dir is not None and not os.path.isabs(image.build.context):
            context = os.path.join(base_dir, image.build.context)
            image = image.model_copy(
                update={"build": image.build.model_copy(update={"context": context})}
            )
        built, _ = await build(
            store.engine, store, image, state_dir=state_dir, output=output, bases=bases
        )
        return built
    from corral.image.build import digest_image
    from corral.image.digests import DigestCache

    cache = DigestCache(state_dir) if state_dir is not None else None
    digested = await asyncio.to_thread(digest_image, image, base_dir=base_dir, cache=cache)
    return await load_digested(store, digested, import_at=import_at)


async def present(
    engine: Engine,
    image: str | OciImage,
    *,
    state_dir: str | None,
    base_dir: str | None = None,
    policy: PullPolicy = "missing",
    credentials: Credentials | None = None,
    notes: list[str] | None = None,
    output: BuildOutput | None = None,
    bases: Bases | None = None,
) -> str:
    """Make ``image`` present on ``engine``; its image ID. An image record is
    loaded (and tagged) unless the engine has that image ID under its reference,
    the layer digests learnt kept in ``state_dir``; a string image is pulled as
    its pull ``policy`` says (``present_reference``), with ``credentials``, and
    what a person should know of it (a failed pull that kept the local image)
    added to ``notes``. ``base_dir``: where the record's relative paths are read
    from. A Dockerfile build (``engine.build``) sends its output lines to
    ``output`` and makes its record bases present through ``bases``."""
    return await present_in(
        EngineImages(engine, credentials), image, state_dir=state_dir, base_dir=base_dir,
        policy=policy, notes=notes, output=output, bases=bases,
    )  # fmt: skip


def _is_digest(reference: str) -> bool:
    return "@" in reference


async def present_reference(
    store: ImageStore, reference: str, policy: PullPolicy, notes: list[str] | None = None
) -> str:
    """A string image made present as ``policy`` says; its image ID.

    ``missing``: pulled only when absent. ``always``: pulled at every call.
    ``never``: an absent image is an error naming it. ``newer``: pulled when the
    registry's digest for the tag is not one the local image is known by. A
    reference by digest names one image for ever: present, it is not pulled
    again unless ``always``. Under ``always`` and ``newer``, a pull (or a
    registry question) that fails while the image is present keeps the local
    image, and a note says so."""
    from corral.engine.registry import RegistryError

    runtime = store.runtime
    local = await store.image_id(reference)
    if policy == "never":
        if local is None:
            raise ImageError(
                f'{reference}: {runtime} has no such image, and pull = "never" forbids pulling it'
            )
        return local
    if local is not None and (policy == "missing" or (policy == "newer" and _is_digest(reference))):
        return local
    try:
        if policy == "newer" and local is not None:
            remote = await store.registry_digest(reference)
            if remote in await store.repo_digests(reference):
                return local
        await store.pull(reference)
    except (CorralError, RegistryError) as error:
        if local is None:
            raise
        if notes is not None:
            notes.append(f"pull failed, kept the local image {local[7:19]}: {error}")
        return local
    found = await store.image_id(reference)
    if found is None:
        raise ImageError(f"{reference}: pulled, but {runtime} has no image of that name")
    return found


async def known_id(engine: Engine | None, image: str | OciImage, state_dir: str) -> str | None:
    """The ID ``present`` would give, as far as it can be known without loading or
    pulling anything: a corral-built record's from its layers' digests (the digest
    cache spares re-reading unchanged files), a tarball's from its manifest, a
    reference's from the engine (None when absent, or with no ``engine``)."""
    if isinstance(image, str):
        return None if engine is None else await EngineImages(engine).image_id(image)
    if image.tarball is not None:
        from corral.image.inspect import archive_image_id

        return await asyncio.to_thread(archive_image_id, image.tarball)
    if image.build is not None:  # what the engine holds under its name (built or not)
        return None if engine is None else await EngineImages(engine).image_id(image.reference)
    from corral.image.build import digest_image
    from corral.image.digests import DigestCache

    digested = await asyncio.to_thread(digest_image, image, cache=DigestCache(state_dir))
    return digested.image_id
