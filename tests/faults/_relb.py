"""Fixtures and helpers of the fault tests of rel-b (disk, socket, protocol, kill).

Kept out of a conftest (other fault tests live beside these): the test modules
import what they use. Everything started here is stopped however a test ends:
tmpfs mounts unmounted, daemons stopped (SIGKILL if need be), containers of
the test's corral instance removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sv_helpers import Corral, finish, labelled_ids, wait_for

PREFIX = "relb-"
NOBODY = 65534


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_root(what: str) -> None:
    """Fail in CI (root there), skip elsewhere, when not root."""
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail(f"{what} needs root", pytrace=False)
        pytest.skip(f"{what} needs root")


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "512k") -> Iterator[Path]:
    """A small tmpfs at ``path``, unmounted after (lazily if still busy)."""
    need_root("mounting a tmpfs")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "relb-tmpfs",
                    str(path)], check=True)  # fmt: skip
    try:
        yield path
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Fill ``directory``'s file system to the last byte; the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def top_up(path: Path) -> None:
    """Append to ``path`` until its file system refuses a byte: on tmpfs a full
    disk still takes appends within a file's last page."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\n")
    finally:
        os.close(fd)


def status_json(corral: Corral) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(corral.run("status", "--json").stdout)}


def ask(path: Path, line: bytes, connection: socket.socket | None = None) -> dict[str, Any]:
    """Send raw ``line`` on the control socket; the one answer line, decoded."""
    own = connection is None
    sock = connection or socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if own:
            sock.settimeout(20)
            sock.connect(str(path))
        sock.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        if own:
            sock.close()
    answer: dict[str, Any] = json.loads(data)
    return answer


def as_user(uid: int, work: Callable[[], object]) -> tuple[int, str]:
    """Run ``work`` in a forked child as ``uid`` (group ``uid`` too, no other
    groups): (exit status, what it printed through its pipe: ``repr`` of its
    result, or the exception's type and message). Forked, not exec'd: the
    interpreter here may not be readable by that user."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            text = repr(work())
        except BaseException as error:
            text = f"{type(error).__name__}: {error}"
            code = 1
        with contextlib.suppress(OSError):
            os.write(write_end, text.encode())
        os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


@contextlib.contextmanager
def reachable_dir() -> Iterator[Path]:
    """A fresh directory under /tmp that another user can reach (pytest's
    ``tmp_path`` is under a 0700 directory of root's); removed after."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_corral(tmp_path: Path) -> Corral:
    return Corral(
        tmp=tmp_path,
        config=tmp_path / "corral.toml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
    )


@pytest.fixture
def corral(tmp_path: Path) -> Iterator[Corral]:
    """A corral instance of this test (processes only), stopped after."""
    instance = make_corral(tmp_path)
    try:
        yield instance
    finally:
        instance.teardown()


@pytest.fixture(params=["docker", "podman"])
def runtime(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue(f"busybox_ref_{request.param}")
    return str(request.param)


@pytest.fixture
def engine_corral(tmp_path: Path, runtime: str) -> Iterator[Corral]:
    """A corral instance on ``runtime``; its daemon and containers gone after."""
    instance = make_corral(tmp_path)
    try:
        yield instance
    finally:
        finish(instance, runtime)


def unique(what: str) -> str:
    return f"{PREFIX}{what}-{os.urandom(3).hex()}"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pid: int, timeout: float = 30.0) -> None:
    wait_for(lambda: not alive(pid), timeout)


__all__ = [
    "NOBODY",
    "Corral",
    "alive",
    "as_user",
    "ask",
    "corral",
    "engine_corral",
    "fill",
    "in_ci",
    "labelled_ids",
    "make_corral",
    "need_root",
    "reachable_dir",
    "runtime",
    "status_json",
    "tmpfs",
    "top_up",
    "unique",
    "wait_for",
    "wait_gone",
]
