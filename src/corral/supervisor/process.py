"""The process runner: a host program in its own process group.

Start: fork/exec with ``start_new_session`` (so the service is a process group
of its own), the declared environment added to the daemon's, user and group
(with the user's supplementary groups), working directory; stdout and stderr
go through one pipe into the service's ``LogFile``.

Stop: ``stop_signal`` to the whole group, ``stop_timeout``, then SIGKILL to the
group. When the main process ends for any reason, what is left of its group is
killed, and the daemon (a child subreaper) reaps it: no zombie, no orphaned
grandchild.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import signal
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from corral.errors import CommandError, CorralError
from corral.supervisor.runner import Handle, RunContext, RunScope, within

POLL = 0.05


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    environment: tuple[str, ...] = ()
    user: str | None = None
    group: str | None = None
    working_directory: str | None = None
    log_path: str = ""
    pid_file: str | None = None
    ready_socket: str | None = None
    #: a Unix socket on which an Engine API must answer ``GET /_ping`` (the engine daemons)
    ready_api: str | None = None
    ready_timeout: float = 30.0
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 5.0
    one_shot: bool = False


def environment(declared: tuple[str, ...], base: dict[str, str] | None = None) -> dict[str, str]:
    """The daemon's environment plus ``K=V`` members; a bare ``K`` keeps the host's value."""
    env = dict(os.environ if base is None else base)
    for member in declared:
        key, sep, value = member.partition("=")
        if sep:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    return env


def signal_number(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise CorralError(f"unknown stop_signal {name!r}") from None


def kill_group(pgid: int, signo: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signo)


@dataclass
class _Identity:
    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None


@dataclass(frozen=True)
class _ProcessRun:
    """One run of a process service: what its handle carries."""

    #: its exit code, from the daemon's reaper
    exit: asyncio.Future[int]
    #: when it was started (monotonic)
    started_at: float


def _run_of(handle: Handle) -> _ProcessRun:
    run = handle.run
    assert isinstance(run, _ProcessRun), f"not a process run: {handle!r}"
    return run


class ProcessRunner:
    def __init__(self, spec: ProcessSpec, context: RunContext) -> None:
        self.spec = spec
        self.context = context

    async def command_line(self) -> list[str]:
        return list(self.spec.argv)

    def describe(self, handle: Handle) -> str:
        return f"pid {handle.id}"

    def details(self, handle: Handle | None) -> dict[str, Any]:
        return {}

    def _identity(self, env: dict[str, str]) -> _Identity:
        spec = self.spec
        kwargs = _Identity()
        if spec.user is not None:
            try:
                entry = pwd.getpwnam(spec.user)
            except KeyError:
                raise CorralError(f"no such user {spec.user!r}") from None
            kwargs.user = entry.pw_uid
            kwargs.group = entry.pw_gid
            kwargs.extra_groups = os.getgrouplist(spec.user, entry.pw_gid)
            env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
        if spec.group is not None:
            try:
                kwargs.group = grp.getgrnam(spec.group).gr_gid
            except KeyError:
                raise CorralError(f"no such group {spec.group!r}") from None
        return kwargs

    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        spec = self.spec
        env = environment(spec.environment)
        identity = self._identity(env)
        log = self.context.logs.get(spec.log_path)
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                env=env,
                cwd=spec.working_directory,
                start_new_session=True,
                user=identity.user,
                group=identity.group,
                extra_groups=identity.extra_groups,
            )
        except OSError as error:
            os.close(read_end)
            raise CommandError(spec.argv, 127, stderr=f"cannot run: {error.strerror}") from None
        finally:
            os.close(write_end)
        run = _ProcessRun(self.context.reaper.watch(process), self.context.clock.monotonic())
        _pump(read_end, log.write)
        return Handle(id=str(process.pid), pid=process.pid, run=run)

    async def ready(self, handle: Handle) -> None:
        spec = self.spec
        if spec.one_shot:
            code = await self._exit(handle)
            if code != 0:
                raise CommandError(spec.argv, code, stderr=f"one_shot exited with status {code}")
            return
        # each in turn, within one deadline: the pid file (as the seed waits for
        # dockerd's and containerd's), then the socket, then the API's answer
        checks: list[tuple[Callable[[Handle], Awaitable[bool]], str]] = []
        if spec.pid_file is not None:
            checks.append((self._pid_file_ready, f"pid file {spec.pid_file} did not appear"))
        if spec.ready_socket is not None:
            checks.append((self._socket_ready, f"{spec.ready_socket} did not accept connections"))
        if spec.ready_api is not None:
            checks.append((self._api_ready, f"no API answered GET /_ping on {spec.ready_api}"))
        exit_future = _run_of(handle).exit
        clock = self.context.clock
        deadline = clock.monotonic() + spec.ready_timeout
        for check, what in checks:
            while not await check(handle):
                if exit_future.done():
                    raise CorralError(f"exited with status {exit_future.result()} before ready")
                if clock.monotonic() >= deadline:
                    raise CorralError(f"not ready: {what} within {spec.ready_timeout:g} s")
                await clock.sleep(POLL)

    async def _pid_file_ready(self, handle: Handle) -> bool:
        path = self.spec.pid_file
        assert path is not None
        try:
            info = os.stat(path)
            with open(path) as file:
                pid = int(file.read().strip() or "0")
        except (OSError, ValueError):
            return False
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        # a pid file left by an earlier run does not count
        return pid == handle.pid or info.st_mtime >= self._start_wall(handle)

    def _start_wall(self, handle: Handle) -> float:
        started = _run_of(handle).started_at
        return self.context.clock.wall() - (self.context.clock.monotonic() - started) - 1.0

    async def _socket_ready(self, handle: Handle) -> bool:
        address = self.spec.ready_socket
        assert address is not None
        return await socket_answers(address)

    async def _api_ready(self, handle: Handle) -> bool:
        from corral.engine.client import socket_answers as api_answers

        assert self.spec.ready_api is not None
        return await api_answers(self.spec.ready_api, timeout=2.0)

    async def _exit(self, handle: Handle) -> int:
        return await asyncio.shield(_run_of(handle).exit)

    async def wait(self, handle: Handle) -> int | None:
        code = await self._exit(handle)
        kill_group(_pid(handle), signal.SIGKILL)  # what the service left behind
        return code

    async def stop(self, handle: Handle) -> int | None:
        pid = _pid(handle)
        future = _run_of(handle).exit
        if not future.done():
            kill_group(pid, signal_number(self.spec.stop_signal))
            if not await within(self.context.clock, future, self.spec.stop_timeout):
                kill_group(pid, signal.SIGKILL)
        code = await asyncio.shield(future)
        kill_group(pid, signal.SIGKILL)
        return code


def _pid(handle: Handle) -> int:
    assert handle.pid is not None
    return handle.pid


def _pump(fd: int, write: Callable[[bytes], None]) -> None:
    """Copy what arrives on ``fd`` to ``write`` until EOF, from the event loop."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            os.close(fd)
            return
        with contextlib.suppress(OSError):
            write(data)

    loop.add_reader(fd, readable)


async def socket_answers(address: str) -> bool:
    """Whether ``address`` (a Unix socket path, ``unix://PATH`` or ``HOST:PORT``) accepts."""
    try:
        if address.startswith("unix://"):
            address = address[len("unix://") :]
        if "/" in address:
            _, writer = await asyncio.open_unix_connection(address)
        else:
            host, _, port = address.rpartition(":")
            _, writer = await asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port))
    except (OSError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
