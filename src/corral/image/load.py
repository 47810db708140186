"""Load an image into Docker or Podman through their CLI, tag it, skip it when present.

``load_image`` is what the container service calls for an ``OciImage``: it
builds the archive (or takes ``tarball``), and loads it only when the engine
does not already have that image ID under the reference. A built archive is
transient: it is written under ``cache_dir`` and removed once loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Callable, Sequence

from corral.config.image import OciImage
from corral.errors import CommandError, ImageError
from corral.image.build import build_image

Runner = Callable[[Sequence[str]], str]
RUNTIMES = ("docker", "podman")
LOAD_TIMEOUT = 1800.0
_LOADED = re.compile(r"^Loaded image(?:\(s\))?( ID)?:\s*(.+?)\s*$", re.MULTILINE)


def run(argv: Sequence[str], timeout: float = LOAD_TIMEOUT) -> str:
    """Run ``argv``; its stdout, or ``CommandError`` (the one runner of this module)."""
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=timeout, check=False,
        )
    except FileNotFoundError:
        raise CommandError(argv, 127, "", f"{argv[0]}: command not found") from None
    except subprocess.TimeoutExpired:
        raise CommandError(argv, 124, "", f"timed out after {timeout:.0f}s") from None
    if result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stdout, result.stderr)
    return result.stdout


def parse_loaded(output: str) -> tuple[list[str], list[str]]:
    """``(names, image IDs)`` from ``docker load`` / ``podman load`` output."""
    names: list[str] = []
    ids: list[str] = []
    for match in _LOADED.finditer(output):
        values = [v.strip() for v in match.group(2).split(",") if v.strip()]
        (ids if match.group(1) else names).extend(values)
    return names, ids


def normal_id(value: str) -> str:
    value = value.strip()
    return value if value.startswith("sha256:") else f"sha256:{value}"


def engine_image_id(runtime: str, ref: str, runner: Runner = run) -> str | None:
    """The ID the engine has under ``ref`` (a name or an ID), or ``None``."""
    try:
        out = runner([runtime, "image", "inspect", "--format", "{{.Id}}", ref])
    except CommandError:
        return None
    return normal_id(out.splitlines()[0]) if out.strip() else None


def archive_image_id(path: str) -> str:
    """The image ID an archive holds (its docker-archive ``manifest.json`` Config)."""
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest = json.load(member)
            config_name = manifest[0]["Config"]
            config = tar.extractfile(config_name)
            if config is None:
                raise KeyError(config_name)
            return "sha256:" + hashlib.sha256(config.read()).hexdigest()
    except (OSError, KeyError, IndexError, ValueError, tarfile.TarError) as exc:
        raise ImageError(f"{path}: not a docker-archive with a manifest.json ({exc})") from exc


def load_archive(
    path: str, reference: str, runtime: str, *, image_id: str | None = None,
    runner: Runner = run,
) -> str:
    """Load ``path`` into ``runtime`` as ``reference`` unless already there; the image ID."""
    if runtime not in RUNTIMES:
        raise ImageError(f"runtime must be one of {', '.join(RUNTIMES)}, but {runtime!r} was found")
    wanted = image_id or archive_image_id(path)
    if engine_image_id(runtime, reference, runner) == wanted:
        return wanted
    if engine_image_id(runtime, wanted, runner) != wanted:
        names, ids = parse_loaded(runner([runtime, "load", "-i", path]))
        if ids and normal_id(ids[0]) != wanted:
            raise ImageError(f"{path}: {runtime} loaded {ids[0]}, not {wanted}")
        if not names and not ids:
            raise ImageError(f"{path}: {runtime} load said nothing about what it loaded")
    if engine_image_id(runtime, reference, runner) != wanted:
        runner([runtime, "tag", wanted, reference])
    got = engine_image_id(runtime, reference, runner)
    if got != wanted:
        raise ImageError(f"{reference}: {runtime} has {got} under this name, not {wanted}")
    return wanted


def archive_path(image: OciImage, cache_dir: str | os.PathLike[str]) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", image.reference)
    return os.path.join(os.fspath(cache_dir), f"{safe}.tar")


def load_image(
    image: OciImage,
    runtime: str,
    *,
    cache_dir: str | os.PathLike[str],
    base_dir: str | None = None,
    runner: Runner = run,
) -> str:
    """Build (or take the tarball of) ``image``, load it into ``runtime`` unless the
    engine already has that image ID as ``image.reference``, tag it; the image ID."""
    if image.tarball is not None:
        tarball = image.tarball
        if base_dir is not None and not os.path.isabs(tarball):
            tarball = os.path.join(base_dir, tarball)
        if not os.path.isfile(tarball):
            raise ImageError(f"image.tarball: {tarball} does not exist")
        try:
            wanted: str | None = archive_image_id(tarball)
        except ImageError:
            wanted = None  # an OCI-only or legacy archive: let the engine say
        if wanted is None:
            names, ids = parse_loaded(runner([runtime, "load", "-i", tarball]))
            loaded = normal_id(ids[0]) if ids else engine_image_id(runtime, names[0], runner)
            if loaded is None:
                raise ImageError(f"image.tarball: {runtime} load of {tarball} gave no image")
            runner([runtime, "tag", loaded, image.reference])
            return loaded
        return load_archive(tarball, image.reference, runtime, image_id=wanted, runner=runner)
    os.makedirs(cache_dir, exist_ok=True)
    path = archive_path(image, cache_dir)
    try:
        built = build_image(image, path, base_dir=base_dir, sbom=False)
        return load_archive(path, image.reference, runtime, image_id=built.image_id, runner=runner)
    finally:
        # The archive is transient: the engine holds the image now, and the same inputs
        # rebuild it bit for bit. Removing it at once spares the disk its writeback.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def default_cache_dir() -> str:
    """Where built archives are kept for loading: ``/var/cache/corral/images`` as root,
    else ``$XDG_CACHE_HOME/corral/images``."""
    if os.geteuid() == 0:
        return "/var/cache/corral/images"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "corral", "images")
