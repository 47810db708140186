"""The Engine API over its Unix socket: HTTP/1.1 by h11 on asyncio's streams.

h11 does the protocol (request framing, response parsing, chunked bodies);
this module only moves its bytes over ``asyncio.open_unix_connection``. Each
request has a connection of its own (``Connection: close``), so no idle
connection can go stale between calls; the daemon's one long-lived connection
is the events stream (``EngineApi.stream``). Paths are unversioned: the engine
answers with its own API version (1.41 for dockerd 20.10, Podman 4.3's
compatible API likewise).

It replaced aiodocker (on aiohttp) because of what that cost the daemon's
start: 140–190 ms of imports, two TLS contexts built at import among them,
before a ``corral up`` could create its first container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import h11

#: Seconds a request may take unless its caller says otherwise.
TIMEOUT = 120.0
READ_SIZE = 65536

Params = Mapping[str, str | int | float | bool | None]


class ApiError(Exception):
    """The engine answered a request with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class TransportError(ConnectionError):
    """The connection broke, or what came back was not HTTP."""


def path_of(*parts: str) -> str:
    """``/a/b/...`` with each part quoted (names and IDs become one segment)."""
    return "".join("/" + quote(part, safe="") for part in parts)


def _target(path: str, params: Params | None) -> str:
    if not params:
        return path
    pairs = []
    for key, value in params.items():
        if value is None:
            continue
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        pairs.append((key, text))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _message(status: int, body: bytes) -> str:
    """The engine's ``{"message": ...}``, else its body as text."""
    text = body.decode(errors="replace").strip()
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(text).get("message")
        if isinstance(message, str):
            return message
    return text or f"HTTP {status}"


@dataclass
class Response:
    """A response whose headers arrived; its body is read from ``chunks()``."""

    status: int
    headers: dict[str, str]
    _connection: h11.Connection
    _reader: asyncio.StreamReader

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, until its end (or the engine closes)."""
        while True:
            event = await _next_event(self._connection, self._reader)
            if isinstance(event, h11.Data):
                if event.data:
                    yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return

    async def body(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as exc:
            raise TransportError(f"the engine's answer is not HTTP: {exc}") from exc
        if event is not h11.NEED_DATA:
            return event
        data = await reader.read(READ_SIZE)
        if not data and connection.their_state is h11.SEND_RESPONSE:
            raise TransportError("the engine closed the connection without answering")
        connection.receive_data(data)


class EngineApi:
    """The Engine API of one engine, at the Unix socket ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: Any = None,
    ) -> AsyncIterator[Response]:
        """Send a request; yield its response once the headers arrived (the
        body is read as it comes). An error status raises ``ApiError``."""
        reader, writer = await asyncio.open_unix_connection(self.path)
        try:
            connection = h11.Connection(h11.CLIENT)
            headers = [("Host", "engine"), ("Connection", "close")]
            data = None if body is None else json.dumps(body).encode()
            if data is not None:
                headers.append(("Content-Type", "application/json"))
                headers.append(("Content-Length", str(len(data))))
            writer.write(connection.send(h11.Request(
                method=method, target=_target(path, params), headers=headers
            )))  # fmt: skip
            if data:
                writer.write(connection.send(h11.Data(data=data)))
            writer.write(connection.send(h11.EndOfMessage()))
            await writer.drain()
            head = await _next_event(connection, reader)
            if not isinstance(head, h11.Response):
                raise TransportError(f"the engine answered {type(head).__name__}, not a response")
            response = Response(
                status=head.status_code,
                headers={k.decode().lower(): v.decode() for k, v in head.headers},
                _connection=connection,
                _reader=reader,
            )
            if response.status >= 400:
                raise ApiError(response.status, _message(response.status, await response.body()))
            yield response
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def call(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: Any = None,
        *,
        timeout: float | None = TIMEOUT,
    ) -> Any:
        """One request; its JSON answer (None for an empty one; the text of
        one that is not JSON, such as ``/_ping``'s ``OK``)."""

        async def exchange() -> tuple[bytes, str]:
            async with self.stream(method, path, params, body) as response:
                return await response.body(), response.headers.get("content-type", "")

        try:
            answer, kind = await asyncio.wait_for(exchange(), timeout)
        except TimeoutError:
            raise TransportError(
                f"{method} {path}: the engine did not answer within {timeout:g}s"
            ) from None
        if not answer.strip():
            return None
        try:
            return json.loads(answer)
        except ValueError as exc:
            if "json" in kind:
                raise TransportError(f"{method} {path}: the answer is not JSON: {exc}") from exc
            return answer.decode(errors="replace")

    async def get(
        self, path: str, params: Params | None = None, *, timeout: float | None = TIMEOUT
    ) -> Any:
        return await self.call("GET", path, params, timeout=timeout)

    async def post(
        self,
        path: str,
        params: Params | None = None,
        body: Any = None,
        *,
        timeout: float | None = TIMEOUT,
    ) -> Any:
        return await self.call("POST", path, params, body, timeout=timeout)

    async def delete(
        self, path: str, params: Params | None = None, *, timeout: float | None = TIMEOUT
    ) -> Any:
        return await self.call("DELETE", path, params, timeout=timeout)


async def json_stream(response: Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a streamed body (newline-separated or not)."""
    decoder = json.JSONDecoder()
    buffer = ""
    async for chunk in response.chunks():
        buffer += chunk.decode(errors="replace")
        while True:
            buffer = buffer.lstrip()
            if not buffer:
                break
            try:
                value, end = decoder.raw_decode(buffer)
            except ValueError:
                break  # the rest of this object is still on its way
            buffer = buffer[end:]
            if isinstance(value, dict):
                yield value


#: The header of one frame of a container's multiplexed stdout/stderr.
FRAME_HEADER = 8


async def log_stream(response: Response, tty: bool) -> AsyncIterator[bytes]:
    """A container's output from ``/containers/ID/logs``: as it is for a
    container with a TTY, else taken out of its 8-byte-headed frames."""
    if tty:
        async for chunk in response.chunks():
            yield chunk
        return
    buffer = bytearray()
    async for chunk in response.chunks():
        buffer += chunk
        start = 0
        while len(buffer) - start >= FRAME_HEADER:
            size = int.from_bytes(buffer[start + 4 : start + FRAME_HEADER], "big")
            end = start + FRAME_HEADER + size
            if len(buffer) < end:
                break
            if size:
                yield bytes(buffer[start + FRAME_HEADER : end])
            start = end
        del buffer[:start]
