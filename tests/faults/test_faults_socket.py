"""A hostile local user: socket and state directories corral does not own, or
that others can write, a symlinked lock file, a socket path that is not a
socket, a missing XDG_RUNTIME_DIR — all refused, naming the path and the
problem, and no file of theirs touched. Peer credentials, both ways."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from _relb import NOBODY, Corral, as_user, ask, corral, make_corral, need_root, reachable_dir

__all__ = ["corral"]

SLEEPER = '[[process]]\nname = "s"\ncommand = ["sleep", "60"]\n'


def daemon(corral: Corral, socket_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``corral daemon`` on ``socket_path`` that is expected to refuse (bounded)."""
    corral.write(SLEEPER)
    argv = ["corral", "-c", str(corral.config), "--socket", str(socket_path), "daemon"]
    return subprocess.run(
        argv, env={**corral.env, **env}, capture_output=True, text=True, timeout=30
    )


def listing(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Name → (mode, owner, content of a regular file) of everything in ``directory``."""
    out = {}
    for entry in sorted(directory.iterdir()):
        info = entry.lstat()
        data = entry.read_bytes() if stat.S_ISREG(info.st_mode) else b""
        out[entry.name] = (info.st_mode, info.st_uid, data)
    return out


def test_a_socket_directory_owned_by_another_user_is_refused(
    corral: Corral, tmp_path: Path
) -> None:
    need_root("chown to another user")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    (theirs / "their-file").write_text("theirs\n")
    os.chown(theirs, NOBODY, NOBODY)
    before = listing(theirs)
    done = daemon(corral, theirs / "corral.sock")
    assert done.returncode == 1
    assert (
        f"refusing the socket directory {theirs}: it is owned by nobody (uid {NOBODY}), "
        "not by root (uid 0)"
    ) in done.stderr, done.stderr
    assert listing(theirs) == before  # no lock, no socket, nothing truncated


def test_a_socket_directory_others_can_write_is_refused(corral: Corral, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp
    done = daemon(corral, shared / "corral.sock")
    assert done.returncode == 1
    assert f"refusing the socket directory {shared}: it is writable by others (mode 1777)" in (
        done.stderr
    ), done.stderr
    assert list(shared.iterdir()) == []
    group = tmp_path / "group"
    group.mkdir()
    group.chmod(0o770)
    done = daemon(corral, group / "corral.sock")
    assert "it is writable by its group (mode 0770)" in done.stderr, done.stderr


def test_a_state_directory_others_can_write_is_refused(corral: Corral, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    done = daemon(corral, tmp_path / "run" / "corral.sock")
    assert done.returncode == 1
    assert f"refusing the state directory {state}: it is writable by others" in done.stderr
    assert list(state.iterdir()) == []
    state.chmod(0o755)  # and `up` (the forked daemon) says the same
    os.chmod(state, 0o777)
    up = corral.run("up", check=False)
    assert up.returncode == 1 and "refusing the state directory" in up.stderr, up.stderr


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(
    corral: Corral, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (run / "corral.sock.lock").symlink_to(victim)
    done = daemon(corral, run / "corral.sock")
    assert done.returncode == 1
    assert f"refusing the lock file {run}/corral.sock.lock: it is a symbolic link" in done.stderr
    assert victim.read_text() == "precious\n"
    assert not (run / "corral.sock").exists()


def test_a_socket_path_that_is_not_a_socket_is_refused_not_removed(
    corral: Corral, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    (run / "corral.sock").write_text("a file\n")
    done = daemon(corral, run / "corral.sock")
    assert done.returncode == 1
    assert f"refusing the socket path {run}/corral.sock: it is not a socket" in done.stderr
    assert (run / "corral.sock").read_text() == "a file\n"
    (run / "corral.sock").unlink()
    (run / "corral.sock").symlink_to(tmp_path / "elsewhere.sock")
    done = daemon(corral, run / "corral.sock")
    assert "it is a symbolic link" in done.stderr
    assert not (tmp_path / "elsewhere.sock").exists()


def test_a_non_root_default_needs_its_own_runtime_directory(tmp_path: Path) -> None:
    need_root("switching to another user")
    from corral.paths import default_socket

    def default_with(runtime: str | None) -> str:
        os.environ.pop("XDG_RUNTIME_DIR", None)
        if runtime is not None:
            os.environ["XDG_RUNTIME_DIR"] = runtime
        return default_socket()

    code, said = as_user(NOBODY, lambda: default_with(None))
    assert code == 1
    assert said.startswith("NotPrivate: XDG_RUNTIME_DIR is not set: set XDG_RUNTIME_DIR to")
    assert "--socket PATH" in said and "/tmp" not in said
    code, said = as_user(NOBODY, lambda: default_with("/tmp"))
    assert code == 1
    assert said.startswith("NotPrivate: XDG_RUNTIME_DIR=/tmp is owned by root (uid 0), not by")
    with reachable_dir() as mine:
        mine.chmod(0o700)
        os.chown(mine, NOBODY, NOBODY)
        code, said = as_user(NOBODY, lambda: default_with(str(mine)))
        assert (code, said) == (0, repr(f"{mine}/corral/corral.sock"))


def test_the_cli_says_what_to_set(tmp_path: Path) -> None:
    """Through the real CLI: a non-root `corral status` without XDG_RUNTIME_DIR."""
    need_root("switching to another user")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "CORRAL_SOCKET")}

    from click.testing import CliRunner

    import corral.cli.service_commands  # noqa: F401 - imported before the switch
    from corral.cli import app

    def status() -> tuple[int, str]:
        os.environ.clear()
        os.environ.update(env)
        result = CliRunner().invoke(app, ["status"])
        return result.exit_code, result.output

    code, said = as_user(NOBODY, status)
    assert code == 0, said
    assert said.startswith("(1, 'corral: XDG_RUNTIME_DIR is not set: set XDG_RUNTIME_DIR"), said


def test_a_peer_of_another_uid_is_refused(tmp_path: Path) -> None:
    need_root("switching to another user")
    with reachable_dir() as shared:
        corral = make_corral(tmp_path)
        corral.socket = shared / "run" / "corral.sock"
        try:
            corral.write(SLEEPER)
            corral.start_daemon()
            # as if the modes were loosened by mistake: the credentials still decide
            corral.socket.parent.chmod(0o711)
            corral.socket.chmod(0o666)

            def ping() -> object:
                return ask(corral.socket, b'{"v":1,"op":"ping"}\n')

            code, said = as_user(NOBODY, ping)
            assert code == 0, said
            assert "'code': 'forbidden'" in said
            assert f"nobody (uid {NOBODY}) may not use this corral daemon" in said
            assert corral.answers()  # root still may
        finally:
            corral.teardown()


def test_the_client_refuses_a_daemon_of_another_uid(tmp_path: Path) -> None:
    """A socket served by another user (say, one that got there first) is not
    talked to: the request, with its arguments, is never sent."""
    need_root("switching to another user")
    with reachable_dir() as where:
        os.chown(where, NOBODY, NOBODY)
        _impostor(where / "corral.sock")


def _impostor(path: Path) -> None:
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the impostor
        try:
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(path))
            os.chmod(path, 0o666)
            server.listen(1)
            os.write(ready_w, b"x")
            connection, _ = server.accept()
            connection.settimeout(5)
            got = connection.recv(65536)
            os._exit(3 if got else 0)
        except BaseException:
            os._exit(1)
    try:
        assert os.read(ready_r, 1) == b"x"
        from corral.control.client import NoDaemon, request

        with pytest.raises(NoDaemon, match=f"served by uid {NOBODY}, not by root or you"):
            request(str(path), "reload", config="/secret/path.toml")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0  # it heard nothing
    finally:
        os.close(ready_r)
        os.close(ready_w)
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
