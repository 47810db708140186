"""Each bad input is a clear one-line error (or note) naming the field and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from corral.config import OciImage
from corral.errors import ImageError
from corral.image import build_image, prepare


def build(tmp_path: Path, **fields: object) -> None:
    image = OciImage(repository="corral-test/bad", **fields)
    build_image(image, str(tmp_path / "out.tar"), sbom=False)


def test_missing_host_path_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    with pytest.raises(ImageError, match=r"^image\.files\[1\]: /nope does not exist$"):
        build(tmp_path, files=[(str(tmp_path / "a"), "/a"), ("/nope", "/b")])
    with pytest.raises(ImageError, match=r"^image\.programs\[0\]: /nope/prog does not exist$"):
        build(tmp_path, programs=["/nope/prog"])
    with pytest.raises(ImageError, match=r"^image\.rootfs: /nope/root does not exist$"):
        build(tmp_path, rootfs="/nope/root")
    assert not (tmp_path / "out.tar").exists()


def test_destination_escaping_the_root(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    # the record refuses it (so `corral check` does) ...
    with pytest.raises(ValidationError, match=r"files\.0\n.*\"/etc/\.\./\.\./x\" escapes"):
        build(tmp_path, files=[(str(tmp_path / "a"), "/etc/../../x")])
    with pytest.raises(ValidationError, match=r"symlinks\.0\n.*\"/\.\./bin/sh\" escapes"):
        build(tmp_path, files=[str(tmp_path / "a")], symlinks=["/../bin/sh:busybox"])
    # ... and the builder still does, for a record made without validation
    unchecked = OciImage.model_construct(
        repository="corral-test/bad", tag="latest", files=((str(tmp_path / "a"), "/etc/../../x"),)
    )
    with pytest.raises(ImageError, match=r"^image\.files\[0\]: /etc/\.\./\.\./x escapes"):
        prepare(unchecked)


def test_symlink_target_escaping_the_root(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    with pytest.raises(ImageError, match=r"^image\.symlinks\[0\]: symlink /bin/sh points outside"):
        build(tmp_path, files=[str(tmp_path / "a")], symlinks=["/bin/sh:../../../busybox"])


def test_absolute_symlink_outside_a_copied_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(
        ImageError,
        match=r"^image\.files\[0\]: symlink .*/tree/passwd points "
        r"outside .*/tree \(to /etc/passwd\)$",
    ):
        build(tmp_path, files=[(str(tree), "/data")])


def test_relative_symlink_outside_a_copied_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "up").symlink_to("../../secret")
    with pytest.raises(ImageError, match=r"^image\.files\[0\]: symlink .*/up points outside"):
        build(tmp_path, files=[(str(tree), "/data")])


def test_absolute_symlink_inside_a_copied_tree_is_rewritten(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a").write_text("a")
    (tree / "b").symlink_to(tree / "a")
    content, _ = prepare(OciImage(repository="x", files=[(str(tree), "/data")]))
    [link] = [e for u in content.units for e in u.entries if e.kind == "symlink"]
    assert (link.path, link.target) == ("data/b", "/data/a")


def test_symlink_loop_in_symlinks(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    loop = r"^image\.symlinks\[\d\]: /bin/\w -> \S+ is a symlink loop$"
    with pytest.raises(ImageError, match=loop):
        build(tmp_path, files=[str(tmp_path / "a")], symlinks=["/bin/a:b", "/bin/b:/bin/a"])


def test_symlink_loop_on_the_host(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(ImageError, match=r"^image\.files\[0\]: .*/loop is a symlink loop$"):
        build(tmp_path, files=[(str(tmp_path / "loop"), "/x")])


def test_symlink_loop_inside_a_copied_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "x").symlink_to("y")
    (tree / "y").symlink_to("x")
    loop = r"^image\.files\[0\]: /data/[xy] -> [xy] is a symlink loop"
    with pytest.raises(ImageError, match=loop):
        build(tmp_path, files=[(str(tree), "/data")])


def test_non_elf_program_is_packed_with_a_note(tmp_path: Path) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    image = OciImage(repository="corral-test/script", programs=[(str(script), "/bin/hello")])
    result = build_image(image, str(tmp_path / "out.tar"), sbom=False)
    assert result.notes == (
        f"image.programs[0]: {script} is not an ELF file; packed as a plain file",
    )
    [layer] = result.layers
    assert [(e.path, e.mode) for e in layer.entries] == [("bin", 0o755), ("bin/hello", 0o755)]


def test_more_than_125_layers_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_layers must be between 1 and 125"):
        OciImage(repository="x", files=["/bin/busybox"], max_layers=126)


def test_binary_of_another_machine(tmp_path: Path) -> None:
    foreign = tmp_path / "arm-busybox"
    data = bytearray(Path("/bin/busybox").read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    foreign.write_bytes(bytes(data))
    with pytest.raises(
        ImageError,
        match=r"^image\.programs\[0\]: .*arm-busybox is a 64-bit "
        r"EM_AARCH64 binary, not one for x86_64$",
    ):
        build(tmp_path, programs=[str(foreign)], system="x86_64-linux")
    with pytest.raises(
        ImageError,
        match=r"^image\.programs\[0\]: /bin/busybox is a 64-bit "
        r"EM_X86_64 binary, not one for aarch64$",
    ):
        build(tmp_path, programs=["/bin/busybox"], system="aarch64-linux")


def test_missing_library(tmp_path: Path) -> None:
    prog = tmp_path / "prog"
    prog.write_bytes(Path("/usr/bin/ls").read_bytes())
    data = bytearray(prog.read_bytes())
    at = data.index(b"libselinux.so.1")
    data[at : at + 15] = b"libnosuchlib.so"
    prog.write_bytes(bytes(data))
    with pytest.raises(
        ImageError,
        match=r"^image\.programs\[0\]: .*prog needs libnosuchlib\.so, "
        r"which was not found",
    ):
        build(tmp_path, programs=[str(prog)])


def test_two_inputs_at_one_path(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(
        ImageError,
        match=r"^image\.files\[1\]: /etc/x is also provided, "
        r"differently, by image\.files\[0\]$",
    ):
        build(tmp_path, files=[(str(tmp_path / "a"), "/etc/x"), (str(tmp_path / "b"), "/etc/x")])
