"""``corral.lock``: the digest each image of a configuration runs.

Written by ``corral lock`` and ``corral update`` beside the configuration
file; read with it. TOML, one ``[[image]]`` table per image, sorted by
reference, each with the reference as declared, what it is pinned to — the
registry's manifest ``digest`` for an image named by a string, the
``image_id`` for an image record corral builds — and when that was resolved::

    version = 1

    [[image]]
    reference = "registry.example.com/team/app:1"
    digest = "sha256:…"
    resolved = 2026-12-01 12:00:00+00:00

With a lock present, a container whose image is a locked string runs
``repository@digest`` (its tag kept in the ``corral.image.tag`` label): ``up``,
``start``, respawn and ``reload`` all read the configuration through
``locked``. A lock that does not parse, or pins an image no service uses, is
a located error (``corral.lock:LINE: image[2].reference: …``). The file holds
no secret; it is written whole (a temporary file renamed over it), 0644.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from corral.config.container import OciContainer
from corral.config.image import OciImage
from corral.config.locate import TomlLocator
from corral.config.reference import DIGEST, ReferenceError, parse_reference, pinned
from corral.config.top import Config
from corral.errors import ConfigError, Path, Problem

LOCK_NAME = "corral.lock"
VERSION = 1
#: The label a pinned container keeps its declared reference (with its tag) in.
TAG_LABEL = "corral.image.tag"
_KEYS = {"reference", "digest", "image_id", "resolved"}
_HEADER = (
    "# Written by `corral lock` and `corral update`: the image each reference of the\n"
    "# configuration beside it runs. Commit it; `corral lock --check` fails on drift.\n"
)


@dataclass(frozen=True)
class Pin:
    """One image's pin: a registry ``digest`` or a built ``image_id``."""

    reference: str
    digest: str | None = None
    image_id: str | None = None
    resolved: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def value(self) -> str:
        return self.digest or self.image_id or ""


@dataclass(frozen=True)
class Lock:
    """A lock file's pins, by reference, and the line each starts on."""

    path: str
    pins: dict[str, Pin]
    lines: dict[str, int] = field(default_factory=dict, compare=False)
    #: each reference's place among the file's [[image]] tables
    index: dict[str, int] = field(default_factory=dict, compare=False)


def lock_path(config_path: str) -> str:
    """Where the lock of the configuration file ``config_path`` is."""
    return os.path.join(os.path.dirname(os.path.abspath(config_path)), LOCK_NAME)


def read_lock(path: str) -> Lock | None:
    """The lock at ``path``, None when there is none; ``ConfigError`` naming the
    file, line and field of each problem."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(
            [Problem(f"cannot read the lock file: {error.strerror}", file=path)]
        ) from None
    try:
        text = raw.decode()
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError([Problem("the lock file is not UTF-8 text", file=path)]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            [Problem(f"the lock file is not valid TOML: {error}", file=path)]
        ) from None
    locator = TomlLocator(text)
    problems: list[Problem] = []

    def problem(message: str, where: Path) -> None:
        problems.append(Problem(message, where, path, locator.line_of(where)))

    for key in sorted(set(data) - {"version", "image"}):
        problem(f"unknown key {key!r} (a lock has version and [[image]] tables)", (key,))
    if data.get("version", VERSION) != VERSION:
        problem(
            f"version {data.get('version')!r} is not {VERSION}, the one this corral reads",
            ("version",),
        )
    images = data.get("image", [])
    pins: dict[str, Pin] = {}
    lines: dict[str, int] = {}
    index: dict[str, int] = {}
    if not isinstance(images, list):
        problem("image must be an array of tables ([[image]])", ("image",))
        images = []
    for i, entry in enumerate(images):
        where: Path = ("image", i)
        if not isinstance(entry, dict):
            problem("must be a table", where)
            continue
        for key in sorted(set(entry) - _KEYS):
            problem(f"unknown key {key!r}", (*where, key))
        reference = entry.get("reference")
        if not isinstance(reference, str):
            problem(
                "reference must be a string naming the image as the configuration does",
                (*where, "reference"),
            )
            continue
        try:
            parse_reference(reference)
        except ReferenceError as error:
            problem(str(error), (*where, "reference"))
            continue
        digest, image_id = entry.get("digest"), entry.get("image_id")
        for name, value in (("digest", digest), ("image_id", image_id)):
            if value is not None and not (isinstance(value, str) and DIGEST.fullmatch(value)):
                problem(
                    f"{name} must look like sha256:<64 hex digits>, but {value!r} was found",
                    (*where, name),
                )
        if (digest is None) == (image_id is None):
            problem("an image is pinned by one of digest or image_id", where)
        resolved = entry.get("resolved")
        if not isinstance(resolved, dt.datetime):
            problem("resolved must be a date-time like 2026-12-01T12:00:00Z", (*where, "resolved"))
            continue
        if reference in pins:
            problem(f"{reference!r} is pinned twice", (*where, "reference"))
        pins[reference] = Pin(reference, digest, image_id, resolved)
        lines[reference] = locator.line_of((*where, "reference")) or 0
        index[reference] = i
    if problems:
        raise ConfigError(problems)
    return Lock(path, pins, lines, index)


def render_lock(pins: Iterable[Pin]) -> str:
    """The lock file's text: sorted by reference."""
    import tomli_w

    images: list[dict[str, Any]] = []
    for pin in sorted(pins, key=lambda p: p.reference):
        entry: dict[str, Any] = {"reference": pin.reference}
        if pin.digest is not None:
            entry["digest"] = pin.digest
        if pin.image_id is not None:
            entry["image_id"] = pin.image_id
        entry["resolved"] = pin.resolved.astimezone(dt.UTC).replace(microsecond=0)
        images.append(entry)
    return _HEADER + "\n" + tomli_w.dumps({"version": VERSION, "image": images})


def write_lock(path: str, pins: Iterable[Pin]) -> None:
    """Write the lock whole: a temporary file beside it, renamed over it."""
    text = render_lock(pins)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".corral.lock.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def declared_images(config: Config) -> dict[str, str | OciImage]:
    """Every image the containers of ``config`` use, by reference as declared."""
    out: dict[str, str | OciImage] = {}
    for container in config.containers:
        image = container.image
        out[image if isinstance(image, str) else image.reference] = image
    return out


def locked(config: Config, lock: Lock) -> Config:
    """``config`` with each locked string image pinned to its digest (the declared
    reference kept in the ``corral.image.tag`` label); ``ConfigError`` when the
    lock pins an image no service uses."""
    used = declared_images(config)
    problems = [
        Problem(
            f"{reference!r} is pinned, but no container of the configuration uses it "
            "(run `corral lock` to rewrite the lock)",
            ("image", lock.index.get(reference, 0), "reference"),
            lock.path,
            lock.lines.get(reference),
        )
        for reference in sorted(lock.pins)
        if reference not in used
    ]
    if problems:
        raise ConfigError(problems)
    containers = tuple(pin_container(c, lock.pins) for c in config.containers)
    return config.model_copy(update={"containers": containers})


def pin_container(container: OciContainer, pins: Mapping[str, Pin]) -> OciContainer:
    """``container`` on its pinned digest, when its image is a pinned string."""
    image = container.image
    pin = pins.get(image) if isinstance(image, str) else None
    if pin is None or pin.digest is None or not isinstance(image, str):
        return container
    return container.model_copy(
        update={
            "image": pinned(image, pin.digest),
            "labels": {**container.labels, TAG_LABEL: image},
        }
    )


def declared_reference(container: OciContainer) -> str:
    """The reference as declared: the tag a pinned container was pinned from."""
    image = container.image
    if isinstance(image, OciImage):
        return image.reference
    return container.labels.get(TAG_LABEL, image)
