"""Built archives load with real ``docker load`` and ``podman load`` (streamed into
their stdin, or from a file), and run."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import engines
import pytest

from corral.config import OciImage
from corral.errors import CommandError, ImageError
from corral.image import build_image
from corral.image.build import digest_image, prepare
from corral.image.digests import DigestCache
from corral.image.docker_api import ApiImporter, CliImporter
from corral.image.load import Feed, load_archive, load_image, load_streamed, run
from corral.supervisor.container import load_image_record

pytestmark = pytest.mark.engine

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


def test_busybox_httpd_serves_a_file(
    runtime: str, tag: str, cleanup: list[str], tmp_path: Path
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
    image_id = load_image(image, runtime)
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
    runtime: str, tag: str, cleanup: list[str], tmp_path: Path, hello: Path
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
    load_archive(result.built.path, image.reference, runtime)
    out = sh(runtime, "run", "--rm", image.reference)
    assert out == "hello from corral, sqrt=8.0, args=4\n"


def test_load_is_streamed_then_skipped_then_only_tagged(
    runtime: str, tag: str, cleanup: list[str]
) -> None:
    image = OciImage(repository="localhost/corral-test/skip", tag=tag, programs=["/bin/busybox"])
    cleanup.append(image.reference)
    calls: list[list[str]] = []
    fed: list[bool] = []

    def recording(argv: Sequence[str], feed: Feed | None = None) -> str:
        calls.append(list(argv))
        fed.append(feed is not None)
        return run(argv, feed=feed)

    first = load_image(image, runtime, runner=recording)
    loads = [i for i, c in enumerate(calls) if c[1] == "load"]
    assert [calls[i] for i in loads] == [[runtime, "load"]]  # no -i FILE: streamed
    assert [fed[i] for i in loads] == [True] and fed.count(True) == 1
    calls.clear()
    second = load_image(image, runtime, runner=recording)
    assert first == second
    assert all(c[1] not in ("load", "tag") for c in calls), calls
    # Untag it: the next load finds the ID, and only tags.
    sh(runtime, "tag", image.reference, f"{image.reference}-keep")
    cleanup.append(f"{image.reference}-keep")
    sh(runtime, "rmi", image.reference)
    calls.clear()
    assert load_image(image, runtime, runner=recording) == first
    assert [c[1] for c in calls if c[1] in ("load", "tag")] == ["tag"]


def test_the_daemon_streams_through_run_cli(
    runtime: str, tag: str, cleanup: list[str], tmp_path: Path
) -> None:
    """``load_image_record``: the load's stdin is a pipe handed to run_cli; the
    layer digests go to the state directory, and the next start reads no layer."""
    image = OciImage(
        repository="localhost/corral-test/daemon",
        tag=tag,
        programs=["/bin/busybox"],
        cmd=["/bin/busybox", "echo", "streamed"],
    )
    cleanup.append(image.reference)
    fds = set(os.listdir("/proc/self/fd"))
    image_id = asyncio.run(load_image_record(image, runtime, str(tmp_path)))
    assert sh(runtime, "run", "--rm", image.reference) == "streamed\n"
    assert (tmp_path / "image-digests.json").exists()
    assert DigestCache(str(tmp_path)).lookup(prepare(image)[1], 1) is not None
    assert asyncio.run(load_image_record(image, runtime, str(tmp_path))) == image_id
    assert set(os.listdir("/proc/self/fd")) <= fds  # no pipe end left open


def test_a_failing_engine_command_is_a_command_error(runtime: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    with pytest.raises(CommandError, match=r"load -i .*bad\.tar"):
        run([runtime, "load", "-i", str(bad)])


def dangling(runtime: str) -> set[str]:
    return set(sh(runtime, "images", "-q", "--no-trunc", "--filter", "dangling=true").split())


@pytest.mark.parametrize("through", ["api", "cli"])
def test_a_big_base_layer_goes_into_docker_by_import(
    docker_engine: object, tag: str, tmp_path: Path, through: str
) -> None:
    """docker: the base layer by ``import`` (through the Engine API on the socket, or
    the CLI), then ``load`` without its blob; the image is ours bit for bit, runs,
    and the image ``import`` made is gone."""
    image = OciImage(
        repository="localhost/corral-test/import", tag=tag, programs=["/bin/busybox"],
        cmd=["/bin/busybox", "echo", "imported"],
    )  # fmt: skip
    calls: list[list[str]] = []

    def recording(argv: Sequence[str], feed: Feed | None = None) -> str:
        calls.append(list(argv))
        return run(argv, feed=feed)

    importer = CliImporter(recording) if through == "cli" else None  # None: the API
    through_cli = ["import", "load", "rmi"] if through == "cli" else ["load"]
    before = dangling("docker")
    digested = digest_image(image)
    try:
        image_id = load_streamed(
            digested, "docker", runner=recording, import_at=0, importer=importer
        )
        assert [c[1] for c in calls if c[1] in ("import", "load", "rmi")] == through_cli
        assert image_id == digested.image_id
        assert sh("docker", "image", "inspect", "--format", "{{.Id}}", image.reference).strip() == (
            image_id
        )
        assert sh("docker", "run", "--rm", image.reference) == "imported\n"
        assert dangling("docker") <= before  # the imported image was removed
        calls.clear()
        assert load_streamed(digested, "docker", runner=recording, import_at=0) == image_id
        assert all(c[1] not in ("import", "load") for c in calls), calls
    finally:
        subprocess.run(["docker", "rmi", "-f", image.reference], capture_output=True, check=False)


def test_a_layer_cut_short_is_never_imported(docker_engine: str, tmp_path: Path) -> None:
    """A source file changed after hashing: the import over the API stops before the
    tar's end, and dockerd, promised more bytes, registers nothing."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(os.urandom(1 << 20))
    (data / "b.bin").write_bytes(os.urandom(1 << 20))
    image = OciImage(repository="localhost/corral-test/cut", tag="1", files=[(str(data), "/d")])
    digested = digest_image(image)
    (data / "b.bin").write_bytes(os.urandom(1 << 20))  # same size, other bytes
    before = set(sh("docker", "images", "-aq", "--no-trunc").split())
    importer = ApiImporter(docker_engine, 60)
    with pytest.raises(ImageError, match=r"b\.bin in layer 1 .*changed while"):
        importer.import_layer(digested.layer_size(1), lambda fh: digested.stream_layer(fh, 1))
    assert set(sh("docker", "images", "-aq", "--no-trunc").split()) <= before


def test_the_api_importer_reports_what_went_wrong(docker_engine: str, tmp_path: Path) -> None:
    missing = ApiImporter(str(tmp_path / "no.sock"), 5)
    with pytest.raises(ImageError, match=rf"docker at {tmp_path}/no\.sock: import: "):
        missing.import_layer(1024, lambda fh: fh.write(bytes(1024)))
    importer = ApiImporter(docker_engine, 60)
    with pytest.raises(ImageError, match=r"docker at .*: inspect sha256:0+: .*No such image"):
        importer.base_layer("sha256:" + "0" * 64)
    importer.remove("sha256:" + "0" * 64)  # gone already: fine
    with pytest.raises(ImageError, match=r"docker at .*: import: "):
        importer.import_layer(1024, lambda fh: fh.write(b"not a tar" + bytes(1015)))


def test_a_failed_load_after_import_leaves_no_image(
    docker_engine: object, tag: str, tmp_path: Path
) -> None:
    image = OciImage(repository="localhost/corral-test/import", tag=tag, programs=["/bin/busybox"])
    before = dangling("docker")

    def failing_load(argv: Sequence[str], feed: Feed | None = None) -> str:
        if argv[1] == "load":
            raise CommandError(argv, 1, "", "load refused (test)")
        return run(argv, feed=feed)

    with pytest.raises(CommandError, match="load refused"):
        load_streamed(digest_image(image), "docker", runner=failing_load, import_at=0)
    assert dangling("docker") <= before
    assert (
        subprocess.run(
            ["docker", "image", "inspect", image.reference], capture_output=True, check=False
        ).returncode
        != 0
    )
