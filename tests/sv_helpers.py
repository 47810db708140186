"""Helpers for the supervisor tests: a daemon driven through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(every)


@dataclass
class Corral:
    tmp: Path
    config: Path
    socket: Path
    state: Path
    daemon: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CORRAL_STATE_DIR": str(self.state)}

    def argv(self, *args: str) -> list[str]:
        return ["corral", "-c", str(self.config), "--socket", str(self.socket), *args]

    def run(
        self, *args: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(f"corral {' '.join(args)} -> {done.returncode}\n{done.stderr}")
        return done

    def write(self, text: str) -> None:
        self.config.write_text(text)

    def start_daemon(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.tmp / "daemon.out", "ab")  # noqa: SIM115
        self.daemon = subprocess.Popen(
            self.argv("daemon", *extra), env={**self.env, **(env or {})}, stdout=log, stderr=log
        )
        wait_for(lambda: self.answers() or self.daemon_died())
        return self.daemon

    def daemon_died(self) -> bool:
        if self.daemon is not None and self.daemon.poll() is not None:
            raise AssertionError((self.tmp / "daemon.out").read_text())
        return False

    def answers(self) -> bool:
        from corral.control.client import answers

        return answers(str(self.socket))

    def status(self) -> dict[str, dict[str, Any]]:
        """The daemon's status, asked through the client library (fast)."""
        from corral.control.client import request

        services = request(str(self.socket), "status")["services"]
        return {s["name"]: s for s in services}

    def status_via_cli(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in json.loads(self.run("status", "--json").stdout)}

    def daemon_pid(self) -> int:
        if self.daemon is not None:
            return self.daemon.pid
        return int(wait_for(lambda: _pid_from_log(self.state / "daemon.log")))

    def teardown(self) -> None:
        pid = None
        try:
            pid = self.daemon_pid() if self.daemon or (self.state / "daemon.log").exists() else None
        except AssertionError:
            pid = None
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            if self.daemon is not None:
                self.daemon.poll()
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        if self.daemon is not None:
            self.daemon.wait(5)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _pid_from_log(path: Path) -> int | None:
    if not path.exists():
        return None
    for line in reversed(path.read_text().splitlines()):
        if "serving" in line and " pid " in line:
            return int(line.split(" pid ", 1)[1].split()[0])
    return None


def own_children() -> set[int]:
    """The pids of this process's children (any thread's, zombies included)."""
    return {pid for pid, _ in children_of(os.getpid())}


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of every process whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().split(") ", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append((int(entry), fields[0]))
    return out


def labelled_ids(runtime: str, state: Path) -> list[str]:
    """Containers of the corral instance whose state directory is ``state``."""
    done = subprocess.run(
        [runtime, "ps", "-aq", "--filter", f"label=corral.instance={state.resolve()}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def finish(instance: Corral, runtime: str) -> None:
    """After a test on ``runtime``: ``down`` if its daemon still answers, the
    daemon gone, and whatever container it labelled removed."""
    if instance.answers():
        instance.run("down", check=False, timeout=120)
    instance.teardown()
    for container_id in labelled_ids(runtime, instance.state):
        extra = ["--time", "0"] if runtime == "podman" else []
        subprocess.run([runtime, "rm", "-f", *extra, container_id], capture_output=True)


@pytest.fixture
def corral(tmp_path: Path) -> Iterator[Corral]:
    instance = Corral(
        tmp=tmp_path,
        config=tmp_path / "corral.toml",
        socket=tmp_path / "run" / "corral.sock",
        state=tmp_path / "state",
    )
    try:
        yield instance
    finally:
        instance.teardown()
