"""Test users for rootless corral (tests/rootless, bench/bench_rootless.py).

``RootlessUser.create(role)`` makes a user ``corral-rl-ROLE<pid>`` with a home,
optionally a subordinate uid/gid range, and its ``/run/user/UID`` (0700,
its own: no logind runs here to make it). ``user.corral(...)`` runs this
checkout's corral as that user through ``runuser``; ``user.run(...)`` any
command. ``remove()`` ends every process of the user (by pid), and deletes
the user, its home (its Podman storage), its runtime directory and its
subordinate ranges; it raises when anything of it is left.

The interpreter and this checkout's ``src`` must be readable by the user. When
one lives under a directory the user cannot enter (pyenv under ``/root``),
each command runs in a private mount namespace (``unshare --mount``) where it
is bind-mounted on a directory anyone can enter: nothing changes on the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
PREFIX = "corral-rl-"
#: Subordinate ranges start here (past the ones a host's own users get).
RANGE_BASE = 1_400_000
RANGE = 65536


class UserSetupError(RuntimeError):
    pass


def _run(
    argv: Sequence[str], timeout: float = 60, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _closed_to_others(path: Path) -> bool:
    """Whether some directory on the way to ``path`` is not enterable by others."""
    for parent in [path, *path.parents]:
        try:
            if parent.is_dir() and not parent.stat().st_mode & 0o001:
                return True
        except OSError:
            return True
    return False


def missing_tools() -> list[str]:
    """What the rootless tests need that this host lacks."""
    wanted = ["runuser", "unshare", "useradd", "userdel", "usermod", "podman", "newuidmap",
              "newgidmap", "slirp4netns"]  # fmt: skip
    return [tool for tool in wanted if shutil.which(tool) is None]


class _View:
    """Where the user reaches the interpreter and ``src`` (bind mounts in a private
    mount namespace when the real places are closed to others)."""

    def __init__(self) -> None:
        self.base = Path(f"/tmp/{PREFIX}view-{os.getpid()}")
        self.binds: list[tuple[str, str]] = []
        prefix = Path(sys.base_prefix)
        python = Path(sys.executable)
        if sys.prefix != sys.base_prefix and _closed_to_others(Path(sys.prefix)):
            raise UserSetupError(f"the virtualenv {sys.prefix} is closed to other users")
        self.python = str(python)
        self.library = sysconfig.get_config_var("LIBDIR") or str(prefix / "lib")
        if _closed_to_others(prefix):
            view = self.base / "py"
            self.binds.append((str(prefix), str(view)))
            self.python = str(view / python.resolve().relative_to(prefix.resolve()))
            self.library = str(view / Path(self.library).relative_to(prefix))
        self.src = str(SRC)
        if _closed_to_others(SRC):
            self.binds.append((str(SRC), str(self.base / "src")))
            self.src = str(self.base / "src")

    def make(self) -> None:
        for _, target in self.binds:
            Path(target).mkdir(parents=True, exist_ok=True)
        if self.binds:
            for d in (self.base, *[Path(t) for _, t in self.binds]):
                d.chmod(0o755)

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def wrap(self, argv: Sequence[str]) -> list[str]:
        if not self.binds:
            return list(argv)
        mounts = " && ".join(
            f"mount --bind {shlex.quote(s)} {shlex.quote(t)}" for s, t in self.binds
        )
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'{mounts} && exec "$@"', "sh", *argv]  # fmt: skip


VIEW: _View | None = None


def view() -> _View:
    global VIEW
    if VIEW is None:
        VIEW = _View()
        VIEW.make()
    return VIEW


def _free_range(path: str) -> int:
    start = RANGE_BASE
    try:
        text = Path(path).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            start = max(start, int(parts[1]) + int(parts[2]))
    return -(-start // RANGE) * RANGE


class RootlessUser:
    def __init__(self, name: str, uid: int, home: Path, ranges: tuple[int, int] | None) -> None:
        self.name, self.uid, self.home, self.ranges = name, uid, home, ranges
        self.runtime_dir = Path(f"/run/user/{uid}")

    @classmethod
    def create(cls, role: str, *, subids: bool = True) -> RootlessUser:
        name = f"{PREFIX}{role}{os.getpid() % 100000}"
        made = _run(
            [
                "useradd",
                "--create-home",
                "--shell",
                "/bin/sh",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
                name,
            ]
        )  # its ranges are the test's to give
        if made.returncode != 0:
            raise UserSetupError(f"useradd {name}: {made.stderr.strip()}")
        entry = pwd.getpwnam(name)
        user = cls(name, entry.pw_uid, Path(entry.pw_dir), None)
        try:
            if subids:
                start = max(_free_range("/etc/subuid"), _free_range("/etc/subgid"))
                span = f"{start}-{start + RANGE - 1}"
                res = _run(["usermod", "--add-subuids", span, "--add-subgids", span, name])
                if res.returncode != 0:
                    raise UserSetupError(f"usermod {name}: {res.stderr.strip()}")
                user.ranges = (start, RANGE)
            user.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=False)
            os.chown(user.runtime_dir, user.uid, entry.pw_gid)
            user.runtime_dir.chmod(0o700)
        except BaseException:
            user.remove()
            raise
        return user

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.name).pw_gid

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        v = view()
        env = {
            "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "XDG_RUNTIME_DIR": str(self.runtime_dir), "PYTHONPATH": v.src,
            "LD_LIBRARY_PATH": v.library, "LANG": "C.UTF-8",
        }  # fmt: skip
        env.update(extra or {})
        return env

    def argv(self, argv: Sequence[str], extra: Mapping[str, str] | None = None) -> list[str]:
        env = [f"{k}={v}" for k, v in self.environ(extra).items()]
        return view().wrap(["runuser", "-u", self.name, "--", "env", "-i", *env, *argv])

    def run(
        self, *argv: str, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run(self.argv(argv, env), timeout=timeout, cwd=str(self.home))

    def corral(
        self, *args: str, timeout: float = 180, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(view().python, "-m", "corral", *args, timeout=timeout, env=env)

    def write(self, relative: str, text: str) -> Path:
        """A file in the user's home, the user's own."""
        path = self.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for p in [path, *path.parents]:
            if p == self.home:
                break
            os.chown(p, self.uid, self.gid)
        return path

    def pids(self) -> list[int]:
        res = _run(["ps", "-u", str(self.uid), "-o", "pid=,stat="])
        return [int(line.split()[0]) for line in res.stdout.splitlines()
                if line.split() and not line.split()[1].startswith("Z")]  # fmt: skip

    def kill_all(self) -> None:
        """End each process of the user by pid: SIGTERM, then SIGKILL."""
        for signo, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signo)
            deadline = time.monotonic() + wait
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self.pids():
                return

    def leftovers(self) -> list[str]:
        """What of this user is still on the host."""
        left: list[str] = []
        if self.pids():
            left.append(f"processes {self.pids()}")
        try:
            pwd.getpwnam(self.name)
            left.append("the passwd entry")
        except KeyError:
            pass
        for path in (self.home, self.runtime_dir):
            if path.exists():
                left.append(str(path))
        for table in ("/etc/subuid", "/etc/subgid"):
            lines = Path(table).read_text().splitlines() if Path(table).exists() else []
            if any(line.split(":")[0] in (self.name, str(self.uid)) for line in lines):
                left.append(f"a range in {table}")
        mounts = Path("/proc/self/mounts").read_text()
        for path in (str(self.home), str(self.runtime_dir)):
            if f" {path}" in mounts:
                left.append(f"mounts under {path}")
        return left

    def remove(self) -> None:
        """Everything of the user gone; UserSetupError naming what could not be removed."""
        self.kill_all()
        if self.ranges is not None:
            start, count = self.ranges
            span = f"{start}-{start + count - 1}"
            _run(["usermod", "--del-subuids", span, "--del-subgids", span, self.name])
        _run(["userdel", "--force", "--remove", self.name])
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        left = self.leftovers()
        if left:
            raise UserSetupError(f"{self.name}: left behind: {', '.join(left)}")


def remove_view() -> None:
    if VIEW is not None:
        VIEW.remove()


#: The rootless tests' TCP ports.
PORTS = range(25300, 25400)
IMAGE = "localhost/corral-rl-busybox:1"


def load_image(user: RootlessUser, tar: Path) -> None:
    """The busybox image in ``user``'s own (rootless) Podman storage."""
    res = user.run(
        "podman", "import", "--change", 'CMD ["/bin/sh"]',
        "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", str(tar), IMAGE,
    )  # fmt: skip
    assert res.returncode == 0, f"podman import as {user.name}: {res.stderr}"


def make_user(role: str, tar: Path | None, *, subids: bool = True) -> RootlessUser:
    """A user (``RootlessUser.create``) with the busybox image of ``tar`` loaded."""
    user = RootlessUser.create(role, subids=subids)
    try:
        if tar is not None:
            load_image(user, tar)
    except BaseException:
        user.remove()
        raise
    return user


class UserCorral:
    """corral run by ``user`` on one configuration file in its home."""

    def __init__(self, user: RootlessUser, name: str, text: str) -> None:
        self.user = user
        self.path = user.write(name, text)

    def __call__(self, *args: str, timeout: float = 180) -> Any:
        return self.user.corral("-c", str(self.path), *args, timeout=timeout)

    def ok(self, *args: str, timeout: float = 180) -> str:
        res = self(*args, timeout=timeout)
        assert res.returncode == 0, f"corral {' '.join(args)}: {res.stdout}{res.stderr}"
        return str(res.stdout)

    def status(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in json.loads(self.ok("status", "--json"))}

    def podman(self, *args: str) -> str:
        res = self.user.run("podman", *args)
        assert res.returncode == 0, f"podman {' '.join(args)}: {res.stderr}"
        return str(res.stdout)

    def down(self) -> None:
        self("down", timeout=120)


def port(offset: int) -> int:
    assert 0 <= offset < len(PORTS)
    return PORTS[offset]
