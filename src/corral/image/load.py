"""Load an image into Docker or Podman through their CLI, tag it, skip it when present.

``load_image`` is what the container service calls for an ``OciImage``. For a
built image it first hashes the layers (``digest_image``), which gives the
image ID without writing anything. When the engine already has that ID under
the reference, that is all; when it has the ID under another name, it is
tagged; otherwise the archive is streamed straight into the standard input of
``docker load`` / ``podman load``: no archive file is written at all. Into
docker, a big base layer goes first by ``import``, over the Engine API when
the CLI would use a Unix socket (``import_then_load``, ``docker_api``). A
``tarball`` image is loaded from its file (``load -i``), with the same
decisions (``ensure_image``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import IO, BinaryIO

from corral.config.image import OciImage
from corral.errors import CommandError, CorralError, ImageError
from corral.image.build import Digested, digest_image
from corral.image.digests import DigestCache
from corral.image.docker_api import Feed as Feed  # re-exported: what runners are fed
from corral.image.docker_api import Importer, Runner, docker_importer, normal_id

RUNTIMES = ("docker", "podman")
LOAD_TIMEOUT = 1800.0
#: The pipe into ``load`` (when the kernel allows), and the buffer in front of it.
PIPE_SIZE = 1 << 20
#: A base layer this big (or bigger) goes into docker by ``import`` (``import_then_load``).
IMPORT_AT = 32 << 20
_LOADED = re.compile(r"^Loaded image(?:\(s\))?( ID)?:\s*(.+?)\s*$", re.MULTILINE)


def widen_pipe(fd: int) -> None:
    """Ask for a ``PIPE_SIZE`` pipe buffer (fewer switches between writer and reader)."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def open_feed(fd: int) -> BinaryIO:
    """The write end ``fd`` of a pipe as a buffered binary file (which owns it)."""
    widen_pipe(fd)
    return open(fd, "wb", buffering=PIPE_SIZE)


def write_feed(fh: BinaryIO, feed: Feed) -> None:
    """Run ``feed`` into ``fh`` and flush it. A reader that went away ends the feeding
    quietly: its exit status and stderr say why, not the ``BrokenPipeError``."""
    try:
        feed(fh)
        fh.flush()
    except BrokenPipeError:
        pass


def close_quietly(fh: IO[bytes]) -> None:
    """Close ``fh``; what it could not flush into a closed pipe is dropped."""
    with contextlib.suppress(OSError):
        fh.close()


class _Deadline:
    """Kills ``process`` once ``timeout`` seconds have passed, unless cancelled first."""

    def __init__(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        self.expired = False
        self.process = process
        self.timer = threading.Timer(timeout, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self) -> None:
        self.expired = True
        self.process.kill()

    def cancel(self) -> None:
        self.timer.cancel()


def _spawn(
    argv: Sequence[str], stdin: int, out: IO[bytes], err: IO[bytes]
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(list(argv), stdin=stdin, stdout=out, stderr=err)
    except FileNotFoundError:
        raise CommandError(argv, 127, "", f"{argv[0]}: command not found") from None


def _fed(process: subprocess.Popen[bytes], fh: BinaryIO | None, feed: Feed | None) -> int:
    """Feed ``process`` (through ``fh``), close its input, and wait for it. If the feed
    fails (or the wait is interrupted), the process is killed before it sees the end
    of its input, and reaped."""
    try:
        if fh is not None and feed is not None:
            write_feed(fh, feed)
            close_quietly(fh)  # the end of its input
        return process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        if fh is not None:
            close_quietly(fh)


def _text(fh: IO[bytes]) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace")


def run(argv: Sequence[str], feed: Feed | None = None, timeout: float = LOAD_TIMEOUT) -> str:
    """Run ``argv``, ``feed`` writing its standard input (else it reads nothing); its
    stdout, or ``CommandError`` (the one runner of this module, outside the daemon).
    Output goes to temporary files, so a chatty command never blocks the feed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if feed is None:
            process, fh = _spawn(argv, subprocess.DEVNULL, out, err), None
        else:
            r, w = os.pipe()
            try:
                process = _spawn(argv, r, out, err)
            except BaseException:
                os.close(w)
                raise
            finally:
                os.close(r)
            fh = open_feed(w)
        deadline = _Deadline(process, timeout)
        try:
            code = _fed(process, fh, feed)
        finally:
            deadline.cancel()
        stdout, stderr = _text(out), _text(err)
    if deadline.expired:
        raise CommandError(argv, 124, stdout, f"timed out after {timeout:.0f}s")
    if code != 0:
        raise CommandError(argv, code, stdout, stderr)
    return stdout


def parse_loaded(output: str) -> tuple[list[str], list[str]]:
    """``(names, image IDs)`` from ``docker load`` / ``podman load`` output."""
    names: list[str] = []
    ids: list[str] = []
    for match in _LOADED.finditer(output):
        values = [v.strip() for v in match.group(2).split(",") if v.strip()]
        (ids if match.group(1) else names).extend(values)
    return names, ids


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


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ImageError(f"runtime must be one of {', '.join(RUNTIMES)}, but {runtime!r} was found")


def ensure_image(
    runtime: str,
    reference: str,
    wanted: str,
    load: Callable[[], str],
    *,
    runner: Runner = run,
    source: str,
) -> str:
    """Make ``runtime`` hold image ``wanted`` as ``reference``: nothing when it does,
    a tag when it has the ID under another name, else ``load()`` (the load command's
    output, about ``source``) and a tag if needed; verified. The image ID."""
    if engine_image_id(runtime, reference, runner) == wanted:
        return wanted
    if engine_image_id(runtime, wanted, runner) != wanted:
        names, ids = parse_loaded(load())
        if ids and normal_id(ids[0]) != wanted:
            raise ImageError(f"{source}: {runtime} loaded {ids[0]}, not {wanted}")
        if not names and not ids:
            raise ImageError(f"{source}: {runtime} load said nothing about what it loaded")
    got = engine_image_id(runtime, reference, runner)
    if got != wanted:
        runner([runtime, "tag", wanted, reference])
        got = engine_image_id(runtime, reference, runner)
    if got != wanted:
        raise ImageError(f"{reference}: {runtime} has {got} under this name, not {wanted}")
    return wanted


def load_archive(
    path: str,
    reference: str,
    runtime: str,
    *,
    image_id: str | None = None,
    runner: Runner = run,
) -> str:
    """Load the archive file ``path`` into ``runtime`` as ``reference`` unless already
    there; the image ID."""
    check_runtime(runtime)
    wanted = image_id or archive_image_id(path)
    return ensure_image(
        runtime,
        reference,
        wanted,
        lambda: runner([runtime, "load", "-i", path]),
        runner=runner,
        source=path,
    )


def load_streamed(
    digested: Digested,
    runtime: str,
    *,
    runner: Runner = run,
    import_at: int = IMPORT_AT,
    importer: Importer | None = None,
) -> str:
    """Load a hashed image into ``runtime`` unless already there, its archive streamed
    into ``load``'s standard input; the image ID. Into docker, a base layer of
    ``import_at`` bytes or more goes in by ``importer`` (default: the Engine API
    when the CLI would use a Unix socket, else the CLI; see ``import_then_load``)."""
    check_runtime(runtime)
    layers = digested.documents.layers

    def load() -> str:
        if runtime == "docker" and layers and layers[0][1] >= import_at:
            chosen = importer or docker_importer(runner, LOAD_TIMEOUT)
            return import_then_load(digested, runner, chosen)
        return runner([runtime, "load"], feed=lambda fh: digested.stream(fh))

    reference = digested.image.reference
    return ensure_image(
        runtime, reference, digested.image_id, load, runner=runner, source=reference
    )


def import_then_load(digested: Digested, runner: Runner, importer: Importer) -> str:
    """Load into docker with the base layer streamed straight into its layer store.

    ``docker load`` first unpacks its whole input into a temporary directory and
    only then applies each layer, so every byte of a big layer is unpacked twice.
    ``docker import`` applies one bare layer tar as it arrives. So the base layer
    goes in by ``import`` (it lands under the same diff ID, docker's layer IDs
    being content addresses), and ``load`` gets the archive without that blob:
    docker finds the layer in its store and does not look for the file. The
    image ``import`` made is removed whatever happens; the loaded image keeps
    the layer. The output of ``load``."""
    base = digested.documents.layers[0][0]
    reference = digested.image.reference
    imported = importer.import_layer(
        digested.layer_size(1), lambda fh: digested.stream_layer(fh, 1)
    )
    try:
        got = importer.base_layer(imported)
        if got != base:
            raise ImageError(f"{reference}: docker import made layer {got}, not {base}")
        return runner(["docker", "load"], feed=lambda fh: digested.stream(fh, held={1}))
    finally:
        with contextlib.suppress(CorralError):
            importer.remove(imported)


def load_tarball(image: OciImage, runtime: str, base_dir: str | None, runner: Runner) -> str:
    """Load ``image.tarball`` as ``image.reference`` unless already there; the image ID."""
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
        return load_archive(tarball, image.reference, runtime, image_id=wanted, runner=runner)
    names, ids = parse_loaded(runner([runtime, "load", "-i", tarball]))
    loaded = normal_id(ids[0]) if ids else engine_image_id(runtime, names[0], runner)
    if loaded is None:
        raise ImageError(f"image.tarball: {runtime} load of {tarball} gave no image")
    runner([runtime, "tag", loaded, image.reference])
    return loaded


def load_image(
    image: OciImage,
    runtime: str,
    *,
    base_dir: str | None = None,
    runner: Runner = run,
    cache: DigestCache | None = None,
) -> str:
    """Build (or take the tarball of) ``image``, load it into ``runtime`` unless the
    engine already has that image ID as ``image.reference``, tag it; the image ID.
    Layer digests ``cache`` knows for the files as they are are not computed again."""
    check_runtime(runtime)
    if image.tarball is not None:
        return load_tarball(image, runtime, base_dir, runner)
    digested = digest_image(image, base_dir=base_dir, cache=cache)
    return load_streamed(digested, runtime, runner=runner)
