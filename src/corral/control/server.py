"""The daemon's side of the control socket: requests in, answers out.

Every request gets exactly one answer line; failures are answers with
``ok: false`` and a one-line message, never a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from corral.config import load
from corral.control.protocol import MAX_LINE, ProtocolError, decode, encode, error, ok
from corral.control.watch import stream_status, watch_request
from corral.errors import ConfigError, CorralError
from corral.supervisor.supervisor import Supervisor

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def claim_socket(path: str) -> TextIO:
    """Lock ``path`` for this daemon; refuse a live one, replace a stale one."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    lock = open(path + ".lock", "w")  # noqa: SIM115 - held for the daemon's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise CorralError(f"a corral daemon is already running on {path}") from None
    if os.path.exists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nobody answers
        else:
            lock.close()
            raise CorralError(f"a corral daemon is already running on {path}")
        finally:
            probe.close()
    return lock


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
            while line := await reader.readline():
                if (watch := watch_request(line)) is not None:  # streams until the client goes
                    await stream_status(self.supervisor, watch, reader, writer)
                    break
                writer.write(encode(await self.answer(line)))
                await writer.drain()
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()

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
