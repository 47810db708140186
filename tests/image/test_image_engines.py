"""Built archives made present on real dockerd and Podman over their Engine API
(``engine.images``: streamed into ``/images/load``, or from a file), and run;
skipped when present, only tagged when present under another name, and a cut
stream registers nothing."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import engines
import pytest
from click.testing import CliRunner
from sv_helpers import own_children

from corral.cli import app
from corral.config import OciImage
from corral.engine.api import EngineApi, Upload
from corral.engine.client import Engine, connect
from corral.engine.endpoint import at
from corral.engine.feed import written_by
from corral.engine.images import (
    EngineImages,
    Loaded,
    file_upload,
    load_archive,
    load_digested,
    present,
)
from corral.errors import ImageError
from corral.image import build_image
from corral.image.build import digest_image, prepare
from corral.image.digests import DigestCache

pytestmark = pytest.mark.engine
T = TypeVar("T")

C_PROGRAM = r"""
#include <stdio.h>
#include <math.h>
int main(int argc, char **argv) {
    printf("hello from corral, sqrt=%.1f, args=%d\n", sqrt((double)argc * 16.0), argc);
    return 0;
}
"""


def sh(*argv: str, timeout: float = 120) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{argv}: {result.stderr}"
    return result.stdout


@pytest.fixture(params=["docker", "podman"])
def runtime(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    request.getfixturevalue(f"{name}_engine")
    return name


@pytest.fixture
def socket(runtime: str, request: pytest.FixtureRequest) -> str:
    """The engine's API socket (the session's Podman service for podman)."""
    return str(request.getfixturevalue("docker_engine" if runtime == "docker" else "podman_api"))


def on(runtime: str, socket: str, scenario: Callable[[Engine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = await connect(at(runtime, socket))  # type: ignore[arg-type]
        try:
            return await asyncio.wait_for(scenario(engine), 300)
        finally:
            await engine.close()

    return asyncio.run(main())


class Recording(EngineImages):
    """The real store, noting which of its methods were called."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.calls: list[str] = []
        self.sizes: list[int | None] = []

    async def tag(self, image_id: str, reference: str) -> None:
        self.calls.append("tag")
        await super().tag(image_id, reference)

    async def load(self, archive: Upload) -> Loaded:
        self.calls.append("load")
        self.sizes.append(archive.size)
        return await super().load(archive)

    async def import_layer(self, layer: Upload) -> str:
        self.calls.append("import")
        return await super().import_layer(layer)

    async def remove(self, image_id: str) -> None:
        self.calls.append("remove")
        await super().remove(image_id)


@pytest.fixture
def tag() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cleanup(runtime: str) -> Iterator[list[str]]:
    """Names of images/containers to remove afterwards."""
    refs: list[str] = []
    yield refs
    for ref in refs:
        subprocess.run([runtime, "rm", "-f", ref], capture_output=True, check=False)
        subprocess.run([runtime, "rmi", "-f", ref], capture_output=True, check=False)


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to compile the dynamically linked test program")
    out = tmp_path_factory.mktemp("hello")
    (out / "hello.c").write_text(C_PROGRAM)
    sh(gcc, "-O1", "-o", str(out / "hello"), str(out / "hello.c"), "-lm")
    assert "interpreter" in sh("file", str(out / "hello")) if shutil.which("file") else True
    return out / "hello"


def all_images(runtime: str) -> set[str]:
    return set(sh(runtime, "images", "-aq", "--no-trunc").split())


def podman_load_files() -> set[str]:
    """Podman's compatible API keeps an uploaded archive here while it loads it."""
    return set(glob.glob("/var/tmp/api_load.tar*"))


def test_busybox_httpd_serves_a_file(
    runtime: str, socket: str, tag: str, cleanup: list[str], tmp_path: Path
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text(f"served by corral {tag}\n")
    image = OciImage(
        repository="localhost/corral-test/httpd",
        tag=tag,
        programs=["/bin/busybox"],
        files=[(str(www), "/www")],
        symlinks=["/bin/sh:busybox"],
        entrypoint=["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"],
        exposed_ports=["8080"],
    )
    cleanup.append(image.reference)
    image_id = on(runtime, socket, lambda engine: present(engine, image, state_dir=None))
    port = engines.free_port()
    name = f"corral-test-httpd-{tag}"
    cleanup.insert(0, name)
    sh(runtime, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", image.reference)
    assert engines.http_get(f"http://127.0.0.1:{port}/index.html", timeout=30) == (
        f"served by corral {tag}\n"
    )
    inspected = sh(runtime, "image", "inspect", "--format", "{{.Id}}", image.reference).strip()
    assert inspected.removeprefix("sha256:") == image_id.removeprefix("sha256:")


def test_dynamic_c_program_runs_with_its_closure(
    runtime: str, socket: str, tag: str, cleanup: list[str], tmp_path: Path, hello: Path
) -> None:
    image = OciImage(
        repository="localhost/corral-test/hello",
        tag=tag,
        programs=[(str(hello), "/usr/local/bin/hello")],
        cmd=["/usr/local/bin/hello", "a", "b", "c"],
    )
    cleanup.append(image.reference)
    result = build_image(image, str(tmp_path / "hello.tar"), sbom=False)
    packed = {e.path for layer in result.layers for e in layer.entries}
    assert any(p.endswith("libm.so.6") for p in packed)
    assert any(p.endswith("libc.so.6") for p in packed)
    on(runtime, socket, lambda e: load_archive(EngineImages(e), result.built.path, image.reference))
    out = sh(runtime, "run", "--rm", image.reference)
    assert out == "hello from corral, sqrt=8.0, args=4\n"


def test_load_is_streamed_then_skipped_then_only_tagged(
    runtime: str, socket: str, tag: str, cleanup: list[str]
) -> None:
    image = OciImage(repository="localhost/corral-test/skip", tag=tag, programs=["/bin/busybox"])
    cleanup.append(image.reference)

    async def load(engine: Engine) -> tuple[str, list[str], list[int | None]]:
        store = Recording(engine)
        image_id = await load_digested(store, digest_image(image))
        return image_id, store.calls, store.sizes

    first, calls, sizes = on(runtime, socket, load)
    assert calls == ["load"] and sizes == [None]  # streamed (chunked), and named by the archive
    second, calls, _ = on(runtime, socket, load)
    assert (second, calls) == (first, [])
    # Untag it: the next load finds the ID, and only tags.
    sh(runtime, "tag", image.reference, f"{image.reference}-keep")
    cleanup.append(f"{image.reference}-keep")
    sh(runtime, "rmi", image.reference)
    third, calls, _ = on(runtime, socket, load)
    assert (third, calls) == (first, ["tag"])


def test_present_streams_and_keeps_the_digests(
    runtime: str, socket: str, tag: str, cleanup: list[str], tmp_path: Path
) -> None:
    """What a container's start calls: the layer digests go to the state
    directory, the next start reads no layer; no thread, pipe or child is
    left behind."""
    image = OciImage(
        repository="localhost/corral-test/daemon",
        tag=tag,
        programs=["/bin/busybox"],
        cmd=["/bin/busybox", "echo", "streamed"],
    )
    cleanup.append(image.reference)
    fds, threads, children = (
        set(os.listdir("/proc/self/fd")),
        threading.active_count(),
        own_children(),
    )
    state = str(tmp_path)
    image_id = on(runtime, socket, lambda engine: present(engine, image, state_dir=state))
    assert sh(runtime, "run", "--rm", image.reference) == "streamed\n"
    assert (tmp_path / "image-digests.json").exists()
    assert DigestCache(state).lookup(prepare(image)[1], 1) is not None
    assert on(runtime, socket, lambda engine: present(engine, image, state_dir=state)) == image_id
    assert set(os.listdir("/proc/self/fd")) <= fds
    assert own_children() <= children
    assert threading.active_count() <= threads


def test_a_bad_archive_is_the_engines_error(runtime: str, socket: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar" * 1000)
    with pytest.raises(ImageError, match=rf"{runtime} at {socket}: load: \S"):
        on(runtime, socket, lambda engine: EngineImages(engine).load(file_upload(str(bad))))


def test_a_cut_archive_registers_nothing(runtime: str, socket: str, tmp_path: Path) -> None:
    """A source file changed after hashing: the load's body is cut before the
    manifests, and the engine, which never saw the body's end, registers
    nothing (and Podman keeps no copy of what it received)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(os.urandom(1 << 20))
    (data / "b.bin").write_bytes(os.urandom(1 << 20))
    image = OciImage(
        repository="localhost/corral-test/cut", tag=uuid.uuid4().hex[:8], files=[(str(data), "/d")]
    )
    digested = digest_image(image)
    (data / "b.bin").write_bytes(os.urandom(1 << 20))  # same size, other bytes
    before, received = all_images(runtime), podman_load_files()
    with pytest.raises(ImageError, match=r"b\.bin in layer 1 .*changed while"):
        on(runtime, socket, lambda engine: load_digested(EngineImages(engine), digested))
    assert all_images(runtime) <= before
    assert subprocess.run([runtime, "image", "inspect", image.reference],
                          capture_output=True, check=False).returncode != 0  # fmt: skip
    assert podman_load_files() <= received


def test_a_big_base_layer_goes_into_docker_by_import(docker_engine: str, tag: str) -> None:
    """docker: the base layer by import, then the load without its blob; the
    image is ours bit for bit, runs, and the image the import made is gone."""
    image = OciImage(
        repository="localhost/corral-test/import", tag=tag, programs=["/bin/busybox"],
        cmd=["/bin/busybox", "echo", "imported"],
    )  # fmt: skip
    before = dangling("docker")
    digested = digest_image(image)

    async def load(engine: Engine) -> tuple[str, list[str]]:
        store = Recording(engine)
        return await load_digested(store, digested, import_at=0), store.calls

    try:
        image_id, calls = on("docker", docker_engine, load)
        assert calls == ["import", "load", "remove"]
        assert image_id == digested.image_id
        assert sh("docker", "image", "inspect", "--format", "{{.Id}}", image.reference).strip() == (
            image_id
        )
        assert sh("docker", "run", "--rm", image.reference) == "imported\n"
        assert dangling("docker") <= before  # the imported image was removed
        assert on("docker", docker_engine, load) == (image_id, [])
    finally:
        subprocess.run(["docker", "rmi", "-f", image.reference], capture_output=True, check=False)


def dangling(runtime: str) -> set[str]:
    return set(sh(runtime, "images", "-q", "--no-trunc", "--filter", "dangling=true").split())


def test_a_layer_cut_short_is_never_imported(docker_engine: str, tmp_path: Path) -> None:
    """A source file changed after hashing: the import stops before the tar's
    end, and dockerd, promised more bytes, registers nothing."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(os.urandom(1 << 20))
    (data / "b.bin").write_bytes(os.urandom(1 << 20))
    image = OciImage(repository="localhost/corral-test/cut", tag="1", files=[(str(data), "/d")])
    digested = digest_image(image)
    (data / "b.bin").write_bytes(os.urandom(1 << 20))  # same size, other bytes
    before = all_images("docker")

    def layer(fh: object) -> None:
        digested.stream_layer(fh, 1)  # type: ignore[arg-type]

    upload = Upload(written_by(layer), size=digested.layer_size(1))
    with pytest.raises(ImageError, match=r"b\.bin in layer 1 .*changed while"):
        on("docker", docker_engine, lambda engine: EngineImages(engine).import_layer(upload))
    assert all_images("docker") <= before


def test_the_engines_errors_are_reported(docker_engine: str, tmp_path: Path) -> None:
    nowhere = str(tmp_path / "no.sock")
    missing = EngineImages(Engine(at("docker", nowhere), EngineApi(nowhere)))

    with pytest.raises(ImageError, match=rf"docker at {tmp_path}/no\.sock: import: "):
        asyncio.run(missing.import_layer(Upload(written_by(lambda fh: fh.write(bytes(1024))))))

    async def scenario(engine: Engine) -> None:
        store = EngineImages(engine)
        with pytest.raises(ImageError, match=r"docker at .*: inspect sha256:0+: .*No such image"):
            await store.layers("sha256:" + "0" * 64)
        assert await store.image_id("sha256:" + "0" * 64) is None
        await store.remove("sha256:" + "0" * 64)  # gone already: fine
        not_a_tar = Upload(written_by(lambda fh: fh.write(b"not a tar" + bytes(1015))), size=1024)
        with pytest.raises(ImageError, match=r"docker at .*: import: "):
            await store.import_layer(not_a_tar)

    on("docker", docker_engine, scenario)


def test_a_failed_load_after_import_leaves_no_image(docker_engine: str, tag: str) -> None:
    image = OciImage(repository="localhost/corral-test/import", tag=tag, programs=["/bin/busybox"])
    before = dangling("docker")

    class Refusing(EngineImages):
        async def load(self, archive: Upload) -> Loaded:
            raise ImageError("load refused (test)")

    digested = digest_image(image)
    with pytest.raises(ImageError, match="load refused"):
        on("docker", docker_engine, lambda e: load_digested(Refusing(e), digested, import_at=0))
    assert dangling("docker") <= before
    assert (
        subprocess.run(
            ["docker", "image", "inspect", image.reference], capture_output=True, check=False
        ).returncode
        != 0
    )


def test_corral_image_load_at_the_terminal(runtime: str, tag: str, tmp_path: Path) -> None:
    """``corral image load NAME``: loaded, then skipped; on Podman through a
    service of its own on the state directory's socket, stopped afterwards."""
    state = tmp_path / "state"
    reference = f"localhost/corral-test/cli-load:{tag}"
    (tmp_path / "corral.toml").write_text(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "web"\n'
        f'image = {{ repository = "localhost/corral-test/cli-load", tag = "{tag}", '
        'programs = ["/bin/busybox"], cmd = ["/bin/busybox", "true"] }\n'
    )
    config = str(tmp_path / "corral.toml")
    env: dict[str, str | None] = {"CORRAL_STATE_DIR": str(state), "CONTAINER_HOST": None}
    try:
        first = CliRunner().invoke(app, ["-c", config, "image", "load", "web"], env=env)
        assert first.exit_code == 0, first.output
        assert first.output.startswith(f"{reference} sha256:") and f"({runtime})" in first.output
        again = CliRunner().invoke(app, ["-c", config, "image", "load", reference], env=env)
        assert again.output == first.output
        assert sh(
            runtime, "image", "inspect", "--format", "{{.Id}}", reference
        ).strip().removeprefix("sha256:") == first.output.split()[1].removeprefix("sha256:")
        if runtime == "podman":
            assert not (state / "podman.sock.pid").exists()  # the service it started is stopped
            assert not [p for p in own_children() if _is_service_on(p, str(state))]
    finally:
        subprocess.run([runtime, "rmi", "-f", reference], capture_output=True, check=False)
        for leftover in ("podman.sock", "podman.sock.log", "podman.sock.pid"):
            (state / leftover).unlink(missing_ok=True)


def _is_service_on(pid: int, state: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return state.encode() in cmdline.read()
    except OSError:
        return False
