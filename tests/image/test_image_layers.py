"""Popularity layering under max_layers, and the archive's structure."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from _imagehelp import layer_members, read_archive, validate_oci

from corral.config import OciImage
from corral.image import build_image
from corral.image.content import Content, Unit
from corral.image.inspect import inspect_archive
from corral.image.layers import partition, plan, rank
from corral.image.tarball import Entry


def unit(key: str, kind: str = "files", popularity: int = 1) -> Unit:
    entry = Entry(key.split(":")[-1].strip("/"), "file", 0o644, 1, "/dev/null")
    return Unit(key, f"image.{key}", kind, (entry,), popularity)  # type: ignore[arg-type]


def test_rank_puts_rootfs_first_then_most_shared_then_stable() -> None:
    units = [
        unit("files:b"),
        unit("library:lib/libm", "library", 2),
        unit("files:a"),
        unit("rootfs:", "rootfs"),
        unit("library:lib/libc", "library", 5),
        unit("program:bin/x", "program"),
    ]
    assert [u.key for u in rank(units)] == [
        "rootfs:",
        "library:lib/libc",
        "library:lib/libm",
        "program:bin/x",
        "files:a",
        "files:b",
    ]
    assert [u.key for u in rank(reversed(units))] == [u.key for u in rank(units)]


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 6, 10])
def test_partition_respects_the_budget(budget: int) -> None:
    units = rank([unit(f"files:{i:02d}") for i in range(6)])
    groups = partition(units, budget)
    assert len(groups) == min(budget, 6)
    assert [u for g in groups for u in g] == units


@pytest.mark.parametrize("max_layers", [1, 2, 3, 4, 125])
def test_plan_respects_max_layers_with_symlinks(max_layers: int) -> None:
    content = Content(
        tuple(unit(f"files:f{i:03d}") for i in range(200)),
        (Entry("bin/sh", "symlink", 0o777, target="busybox"),),
    )
    layers = plan(content, max_layers)
    assert len(layers) == max_layers
    paths = [e.path for layer in layers for e in layer.entries if e.kind != "dir"]
    assert sorted(paths) == sorted([f"f{i:03d}" for i in range(200)] + ["bin/sh"])
    if max_layers > 1:
        assert [e.path for e in layers[-1].entries] == ["bin", "bin/sh"]


def test_built_image_layer_count_and_shared_library_first(tmp_path: Path) -> None:
    files = []
    for i in range(12):
        (tmp_path / f"f{i}").write_text(str(i))
        files.append((str(tmp_path / f"f{i}"), f"/data/f{i}"))
    image = OciImage(
        repository="corral-test/layers",
        files=files,
        programs=["/usr/bin/ls", "/usr/bin/cat"],
        symlinks=["/bin/l:/usr/bin/ls"],
        max_layers=5,
    )
    out = tmp_path / "img.tar"
    result = build_image(image, str(out), sbom=False)
    assert len(result.layers) == 5
    validate_oci(out)
    layers = layer_members(out)
    assert len(layers) == 5
    # libc is needed by both programs, so it gets the first layer.
    first = [m.name for m in layers[0] if m.isfile()]
    assert len(first) == 1 and first[0].endswith("libc.so.6")
    assert [m.name for m in layers[-1] if m.issym()] == ["bin/l"]
    # everything else was merged into the fourth layer
    merged = {m.name for m in layers[3] if m.isfile()}
    assert {f"data/f{i}" for i in range(12)} <= merged


def test_oci_layout_structure_and_reference(tmp_path: Path) -> None:
    image = OciImage(
        repository="registry.local:5000/team/app",
        tag="v1",
        programs=["/bin/busybox"],
        entrypoint=["/bin/busybox"],
        cmd=["sh"],
        workdir="/",
        user="0",
        system="x86_64-linux",
        exposed_ports=["8080", "53/udp"],
    )
    out = tmp_path / "img.tar"
    result = build_image(image, str(out), sbom=False)
    parts = validate_oci(out)
    annotations = parts["index"]["manifests"][0]["annotations"]
    assert annotations["org.opencontainers.image.ref.name"] == "registry.local:5000/team/app:v1"
    assert parts["docker"]["RepoTags"] == ["registry.local:5000/team/app:v1"]
    config = parts["config"]
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert config["config"]["Entrypoint"] == ["/bin/busybox"]
    assert result.image_id == parts["manifest"]["config"]["digest"]
    raw = read_archive(out)["index.json"]
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    info = inspect_archive(str(out))
    assert info.problems == ()
    assert info.image_id == result.image_id
    assert [la.digest for la in info.layers] == [d for d, _ in result.built.layers]


def test_inspect_reports_a_corrupted_blob(tmp_path: Path) -> None:
    image = OciImage(repository="corral-test/bad", programs=["/bin/busybox"])
    out = tmp_path / "img.tar"
    build_image(image, str(out), sbom=False)
    data = bytearray(out.read_bytes())
    at = data.index(b"busybox") + 600  # inside the busybox bytes of the layer
    data[at] ^= 0xFF
    out.write_bytes(bytes(data))
    assert any("digest" in p for p in inspect_archive(str(out)).problems)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_sbom_lists_files_and_debian_packages(tmp_path: Path) -> None:
    image = OciImage(repository="corral-test/sbom", programs=["/bin/busybox", "/usr/bin/ls"])
    result = build_image(image, str(tmp_path / "img.tar"))
    assert result.sbom == str(tmp_path / "img.tar.spdx.json")
    doc = json.loads(Path(result.sbom).read_text())
    names = {f["fileName"] for f in doc["files"]}
    assert "/bin/busybox" in names and "/usr/bin/ls" in names
    owner = subprocess.run(
        ["dpkg", "-S", "/bin/busybox"], capture_output=True, text=True, check=False
    ).stdout.split(":")[0]
    assert owner in {p["name"] for p in doc["packages"]}
