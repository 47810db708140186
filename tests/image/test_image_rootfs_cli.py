"""A rootfs as the base (its symlinks respected), and the ``corral image`` commands."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from _imagehelp import layer_members, load_into_docker, validate_oci
from click.testing import CliRunner

from corral.cli import app
from corral.config import OciImage
from corral.errors import ImageError
from corral.image import build_image, prepare


def merged_usr_rootfs(root: Path) -> Path:
    for d in ("usr/bin", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    for link in ("bin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    (root / "etc/motd").write_text("corral\n")
    (root / "etc/os-release").symlink_to("/usr/lib/os-release")
    (root / "usr/lib/os-release").write_text("ID=corral\n")
    return root


def test_programs_go_through_the_rootfs_symlinks(tmp_path: Path) -> None:
    root = merged_usr_rootfs(tmp_path / "root")
    image = OciImage(
        repository="corral-test/rootfs", rootfs=str(root), programs=[("/usr/bin/ls", "/bin/ls")]
    )
    _, layers = prepare(image)
    first, *rest = layers
    assert first.comment == "rootfs (image.rootfs)"
    later = {e.path: e for layer in rest for e in layer.entries}
    assert "usr/bin/ls" in later and "bin/ls" not in later
    assert any(p.startswith("usr/lib64/ld-linux") for p in later)
    assert "usr/lib/x86_64-linux-gnu/libc.so.6" in later
    for replaced in ("bin", "lib", "lib64"):  # never a directory over a rootfs symlink
        assert replaced not in later
    out = tmp_path / "img.tar"
    build_image(image, str(out), sbom=False)
    validate_oci(out)
    base = {m.name.rstrip("/"): m for m in layer_members(out)[0]}
    assert base["tmp"].mode == 0o1777
    assert base["bin"].issym() and base["bin"].linkname == "usr/bin"


def test_rootfs_symlink_escaping_the_root(tmp_path: Path) -> None:
    root = merged_usr_rootfs(tmp_path / "root")
    (root / "etc/evil").symlink_to("../../../../outside")
    with pytest.raises(ImageError, match=r"^image\.rootfs: symlink .*/etc/evil points outside"):
        prepare(OciImage(repository="x", rootfs=str(root)))


def test_rootfs_socket_is_left_out_with_a_note(tmp_path: Path) -> None:
    root = merged_usr_rootfs(tmp_path / "root")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "tmp/sock"))
        content, _ = prepare(OciImage(repository="x", rootfs=str(root)))
    assert content.notes == (f"image.rootfs: {root}/tmp/sock is a socket; left out",)


@pytest.mark.engine
def test_rootfs_image_runs_a_packed_program(tmp_path: Path, docker_engine: str) -> None:
    root = merged_usr_rootfs(tmp_path / "root")
    image = OciImage(
        repository="localhost/corral-test/rootfs",
        tag=f"t{uuid.uuid4().hex[:12]}",
        rootfs=str(root),
        programs=[("/usr/bin/cat", "/bin/cat")],
        cmd=["/bin/cat", "/etc/motd", "/etc/os-release"],
    )
    load_into_docker(image, docker_engine)
    try:
        out = subprocess.run(
            ["docker", "run", "--rm", image.reference], capture_output=True, text=True, check=True
        ).stdout
        assert out == "corral\nID=corral\n"
    finally:
        subprocess.run(["docker", "rmi", "-f", image.reference], capture_output=True, check=False)


def test_cli_build_and_inspect(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hi\n")
    (tmp_path / "corral.toml").write_text(
        "[[container]]\n"
        'provision = "web"\n'
        'image = { repository = "corral-test/cli", tag = "v1", programs = ["/bin/busybox"], '
        'files = ["www:/www"], cmd = ["/bin/busybox", "httpd", "-f", "-h", "/www"] }\n'
    )
    runner = CliRunner()
    config = str(tmp_path / "corral.toml")
    out = tmp_path / "web.tar"
    by_service = runner.invoke(app, ["-c", config, "image", "build", "web", "-o", str(out)])
    assert by_service.exit_code == 0, by_service.output
    assert "corral-test/cli:v1 sha256:" in by_service.output
    first = out.read_bytes()
    by_ref = runner.invoke(
        app, ["-c", config, "image", "build", "corral-test/cli:v1", "-o", str(out)]
    )
    assert by_ref.exit_code == 0, by_ref.output
    assert out.read_bytes() == first  # relative files resolved against the config's directory
    sbom = json.loads((tmp_path / "web.tar.spdx.json").read_text())
    assert "/www/index.html" in {f["fileName"] for f in sbom["files"]}
    shown = runner.invoke(app, ["image", "inspect", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "reference:  corral-test/cli:v1" in shown.output
    assert shown.output.count("sha256:") == 3  # the image ID and two layers
    missing = runner.invoke(app, ["-c", config, "image", "build", "nope"])
    assert missing.exit_code == 1
    assert "nope: no image record or container service of that name" in missing.output
