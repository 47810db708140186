"""ELF closures: interpreter, DT_NEEDED, RPATH/RUNPATH with $ORIGIN, ld.so.conf."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from corral.config import OciImage
from corral.image import prepare
from corral.image.elf import closure, ld_so_conf_dirs, read_elf


def test_ld_so_conf_includes_globs_and_comments(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("/opt/b/lib  # comment\n")
    (tmp_path / "conf.d" / "a.conf").write_text("# only a comment\n/opt/a/lib\n/usr/lib\n")
    (tmp_path / "conf.d" / "skip.txt").write_text("/nope\n")
    main = tmp_path / "ld.so.conf"
    main.write_text("/first\ninclude conf.d/*.conf\nhwcap 0 nosegneg\n/usr/lib\n/last\n")
    assert ld_so_conf_dirs(str(main)) == ["/first", "/opt/a/lib", "/usr/lib", "/opt/b/lib", "/last"]
    assert ld_so_conf_dirs(str(tmp_path / "missing.conf")) == []


def test_host_program_closure() -> None:
    info = read_elf("/usr/bin/ls")
    assert info is not None and info.interpreter is not None
    deps = closure("/usr/bin/ls", "/bin/ls", info, what="image.programs[0]", arch="x86_64")
    names = [Path(d.image_path).name for d in deps]
    assert deps[0].image_path == info.interpreter
    assert "libc.so.6" in names
    assert len(names) == len(set(names))  # ld.so is not packed twice
    assert read_elf("/etc/passwd") is None


@pytest.fixture(scope="module")
def origin_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed for the $ORIGIN test")
    root = tmp_path_factory.mktemp("app")
    (root / "lib").mkdir()
    (root / "bin").mkdir()
    (root / "greet.c").write_text('const char *greet(void) { return "hi from libgreet"; }\n')
    (root / "main.c").write_text(
        "#include <stdio.h>\nconst char *greet(void);\n"
        "int main(void) { puts(greet()); return 0; }\n"
    )
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-o", str(root / "lib/libgreet.so"), str(root / "greet.c")],
        check=True,
    )
    subprocess.run(
        [
            gcc,
            "-o",
            str(root / "bin/greet"),
            str(root / "main.c"),
            f"-L{root / 'lib'}",
            "-lgreet",
            "-Wl,-rpath,$ORIGIN/../lib",
        ],
        check=True,
    )
    return root


def test_origin_rpath_follows_the_image_location(origin_app: Path) -> None:
    image = OciImage(
        repository="corral-test/origin",
        programs=[(str(origin_app / "bin/greet"), "/opt/greet/bin/greet")],
    )
    content, _ = prepare(image)
    paths = {e.path: e.source for u in content.units for e in u.entries}
    assert paths["opt/greet/lib/libgreet.so"] == str(origin_app / "lib/libgreet.so")
    assert "opt/greet/bin/greet" in paths


@pytest.mark.engine
def test_origin_program_runs(origin_app: Path, docker_engine: str) -> None:
    from _imagehelp import load_into_docker

    image = OciImage(
        repository="localhost/corral-test/origin",
        tag=f"t{uuid.uuid4().hex[:12]}",
        programs=[(str(origin_app / "bin/greet"), "/opt/greet/bin/greet")],
        cmd=["/opt/greet/bin/greet"],
    )
    load_into_docker(image, docker_engine)
    try:
        out = subprocess.run(
            ["docker", "run", "--rm", image.reference], capture_output=True, text=True, check=True
        ).stdout
        assert out == "hi from libgreet\n"
    finally:
        subprocess.run(["docker", "rmi", "-f", image.reference], capture_output=True, check=False)
