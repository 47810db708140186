"""The daemon's side of the control socket: requests in, answers out.

Every request gets exactly one answer line (after the progress lines of pulls
and pushes, when it asked for them: ``corral.control.transfers``); failures are
answers with ``ok: false`` and a one-line message, never a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from corral import privacy
from corral.config import load
from corral.control.protocol import MAX_LINE, ProtocolError, decode, encode, error, ok
from corral.control.transfers import answer_with_transfers, wants_progress
from corral.control.watch import stream_status, watch_request
from corral.errors import ConfigError, CorralError
from corral.supervisor.supervisor import Supervisor

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def claim_socket(path: str) -> int:
    """Lock ``path`` for this daemon (the lock file's descriptor); refuse a live
    one, replace a stale one. The directory must be private (``privacy``); the
    lock file is never followed through a symlink nor truncated, and what is in
    the socket's place is removed only when it is a stale socket of ours."""
    path = os.path.abspath(path)
    privacy.private_dir(os.path.dirname(path), "socket directory")
    lock = privacy.open_lock(path + ".lock")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise CorralError(f"a corral daemon is already running on {path}") from None
    problem = privacy.socket_in_the_way(path)
    if problem is not None:
        os.close(lock)
        raise privacy.NotPrivate(f"refusing the socket path {path}: it {problem}")
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nobody answers
        else:
            os.close(lock)
            raise CorralError(f"a corral daemon is already running on {path}")
        finally:
            probe.close()
    return lock


class _TooLong:
    """A request line past ``MAX_LINE``, skipped to its end (``size``: bytes seen)."""

    def __init__(self, size: int) -> None:
        self.size = size


async def _read_line(reader: asyncio.StreamReader) -> bytes | _TooLong:
    """The next request line (b"" at the end); a line past the reader's limit is
    read to its newline and thrown away, so it can be answered and the
    connection goes on."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as partial:
        return partial.partial
    except asyncio.LimitOverrunError as overrun:
        size = 0
        while True:
            size += len(await reader.read(overrun.consumed or 1))
            try:
                size += len(await reader.readuntil(b"\n"))
                return _TooLong(size)
            except asyncio.IncompleteReadError as partial:
                return _TooLong(size + len(partial.partial))
            except asyncio.LimitOverrunError as again:
                overrun = again


class ControlServer:
    def __init__(self, supervisor: Supervisor, path: str, finish: asyncio.Event) -> None:
        self.supervisor = supervisor
        self.path = path
        self.finish = finish
        self._server: asyncio.Server | None = None
        self._ops: dict[str, Handler] = {
            "ping": self._ping,
            "status": self._status,
            "start": self._many("start"),
            "stop": self._many("stop"),
            "restart": self._many("restart"),
            "enable": self._many("enable"),
            "disable": self._many("disable"),
            "action": self._action,
            "up": self._up,
            "down": self._down,
            "plan": self._plan,
            "reload": self._reload,
            "log_source": self._log_source,
            "update": self._update,
        }

    async def open(self) -> None:
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = privacy.peer_uid(writer.get_extra_info("socket"))
            if not privacy.trusted(uid):
                # its request is read (not acted on) so that it hears the answer
                with contextlib.suppress(TimeoutError, ValueError, asyncio.LimitOverrunError):
                    await asyncio.wait_for(reader.readuntil(b"\n"), 5.0)
                writer.write(encode(error("forbidden", privacy.refusal(uid))))
                await writer.drain()
                return
            while line := await _read_line(reader):
                if isinstance(line, bytes) and (watch := watch_request(line)) is not None:
                    await stream_status(self.supervisor, watch, reader, writer)
                    break
                if isinstance(line, bytes) and wants_progress(line):
                    transfers = self.supervisor.context.engines.transfers
                    answer = await answer_with_transfers(transfers, self.answer(line), writer)
                else:
                    answer = await self._answer_line(line)
                writer.write(encode(answer))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer_line(self, line: bytes | _TooLong) -> dict[str, Any]:
        if isinstance(line, _TooLong):
            return error(
                "bad-request", f"request line longer than {MAX_LINE} bytes ({line.size}+ read)"
            )
        return await self.answer(line)

    async def answer(self, line: bytes) -> dict[str, Any]:
        try:
            message = decode(line)
            handler = self._ops.get(str(message.get("op")))
            if handler is None:
                raise ProtocolError("bad-request", f"unknown op {message.get('op')!r}")
            return await handler(message)
        except ProtocolError as problem:
            return error(problem.code, problem.message)
        except ConfigError as problem:
            return error("invalid-config", str(problem))
        except CorralError as problem:
            return error("failed", str(problem))
        except Exception as problem:  # an answer, not a dropped connection
            return error("internal", f"{type(problem).__name__}: {problem}")

    # -- operations -----------------------------------------------------------

    async def _ping(self, message: dict[str, Any]) -> dict[str, Any]:
        return ok(pid=os.getpid())

    async def _status(self, message: dict[str, Any]) -> dict[str, Any]:
        return ok(services=self.supervisor.status(message.get("name")))

    def _many(self, op: str) -> Handler:
        async def handle(message: dict[str, Any]) -> dict[str, Any]:
            names = [str(n) for n in message.get("names", [])]
            for name in names:
                self.supervisor.owner(name)  # unknown names fail before anything runs
            sup = self.supervisor

            async def one(name: str) -> None:
                if op in ("enable", "disable"):
                    await sup.owner(name).request(op)
                else:
                    await getattr(sup, op)(name)

            failures = await sup._each(one, names)
            if failures:
                raise CorralError("; ".join(failures.values()))
            return ok()

        return handle

    async def _action(self, message: dict[str, Any]) -> dict[str, Any]:
        output = await self.supervisor.action(str(message["name"]), str(message["action"]))
        return ok(output=output)

    async def _up(self, message: dict[str, Any]) -> dict[str, Any]:
        return ok(failures=await self.supervisor.up())

    async def _down(self, message: dict[str, Any]) -> dict[str, Any]:
        failures = await self.supervisor.down(volumes=bool(message.get("volumes")))
        self.finish.set()
        return ok(failures=failures)

    async def _plan(self, message: dict[str, Any]) -> dict[str, Any]:
        config = load(str(message["config"])).config
        return ok(changes=[str(c) for c in await self.supervisor.plan(config)])

    async def _reload(self, message: dict[str, Any]) -> dict[str, Any]:
        config = load(str(message["config"])).config
        return ok(changes=[str(c) for c in await self.supervisor.reload(config)])

    async def _log_source(self, message: dict[str, Any]) -> dict[str, Any]:
        return ok(**self.supervisor.log_source(str(message["name"])))

    async def _update(self, message: dict[str, Any]) -> dict[str, Any]:
        from corral.supervisor.update import update

        names = [str(n) for n in message.get("names", [])]
        outcomes = await update(
            self.supervisor, str(message["config"]), names, bool(message.get("dry_run"))
        )
        return ok(outcomes=[o.as_dict() for o in outcomes])
