"""The Engine API over its Unix socket: HTTP/1.1 by h11 on asyncio's streams.

h11 does the protocol (request framing, response parsing, chunked bodies);
this module only moves its bytes over ``asyncio.open_unix_connection``. Each
request has a connection of its own (``Connection: close``), so no idle
connection can go stale between calls; the daemon's one long-lived connection
is the events stream (``EngineApi.stream``). Paths are unversioned: the engine
answers with its own API version (1.41 for dockerd 20.10, Podman 4.3's
compatible API likewise).

A request carries a JSON ``body``, or an ``Upload``: bytes sent as their
producer yields them (an image archive on its way to ``/images/load``), with
a ``Content-Length`` when the size is known, else chunked. Should the
producer fail, the request is aborted — the connection closed without the
message's end, so the engine sees a cut body and registers nothing — and the
producer's error is raised. Extra request ``headers`` (``X-Registry-Auth``)
are a parameter of every call.

It replaced aiodocker (on aiohttp) because of what that cost the daemon's
start: 140–190 ms of imports, two TLS contexts built at import among them,
before a ``corral up`` could create its first container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import h11

#: Seconds a request may take unless its caller says otherwise.
TIMEOUT = 120.0
#: Seconds a stream's connection and the head of its answer may take.
HEAD_TIMEOUT = 30.0
READ_SIZE = 65536
#: Seconds to wait for the answer of an engine that stopped reading a body.
EARLY_ANSWER = 5.0

Params = Mapping[str, str | int | float | bool | None]


class ApiError(Exception):
    """The engine answered a request with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class TransportError(ConnectionError):
    """The connection broke, or what came back was not HTTP."""


class Unreachable(TransportError):
    """Nothing listens on the engine's socket (absent, or refusing connections);
    ``why`` says which (the system's words)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"nothing answers on {path}: {why}")
        self.why = why


@dataclass(frozen=True)
class Upload:
    """A request body sent as ``chunks`` yields it: ``size`` bytes in all
    (``Content-Length``), or, when None, as many as come (chunked)."""

    chunks: AsyncIterable[bytes]
    size: int | None = None
    content_type: str = "application/x-tar"


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


def _response(
    head: h11.Response, connection: h11.Connection, reader: asyncio.StreamReader
) -> Response:
    return Response(
        status=head.status_code,
        headers={k.decode().lower(): v.decode() for k, v in head.headers},
        _connection=connection,
        _reader=reader,
    )


async def _send_upload(
    connection: h11.Connection, writer: asyncio.StreamWriter, upload: Upload
) -> OSError | None:
    """Send ``upload``'s chunks as they come, then the message's end; the error
    of a connection that broke meanwhile (None when all went out). A producer
    that fails, or yields other than its declared size, aborts the connection
    first — the engine sees a cut body — and its error is raised."""
    chunks = aiter(upload.chunks)
    sent = 0
    try:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except BaseException:
                writer.transport.abort()
                raise
            sent += len(chunk)
            if upload.size is not None and sent > upload.size:
                writer.transport.abort()
                raise TransportError(f"the body has more than the {upload.size} bytes declared")
            if not chunk:
                continue
            try:
                writer.writelines(connection.send_with_data_passthrough(h11.Data(data=chunk)) or ())
                await writer.drain()
            except OSError as exc:
                return exc
        if upload.size is not None and sent != upload.size:
            writer.transport.abort()
            raise TransportError(f"the body has {sent} bytes, not the {upload.size} declared")
        try:
            writer.write(connection.send(h11.EndOfMessage()))
            await writer.drain()
        except OSError as exc:
            return exc
        return None
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()  # the producer stops (and cleans up) now, not when collected


async def _upload(
    connection: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upload: Upload,
) -> Any:
    """Send ``upload`` while listening for the answer's head; that head.

    The answer is read as the body goes out because an engine may refuse
    before the body's end (dockerd and Podman, in Go, answer, half-close, and
    soon close): once a write has failed, asyncio drops what was left unread.
    An error answer then stops the upload and is raised (``ApiError``); any
    other answer waits for the body's end."""
    sender = asyncio.ensure_future(_send_upload(connection, writer, upload))
    head = asyncio.ensure_future(_next_event(connection, reader))
    try:
        await asyncio.wait({sender, head}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done():
            broken = sender.result()  # the producer's error, raised
            if broken is None:
                return await head
            try:
                event = await asyncio.wait_for(head, EARLY_ANSWER)
            except (OSError, TimeoutError):  # TransportError among them
                event = None
            if not _is_error(event):
                raise TransportError(
                    f"the engine closed the connection while the body was sent: {broken}"
                ) from broken
        else:
            event = head.result()  # TransportError: closed without answering
            if not _is_error(event):
                broken = await sender
                if broken is not None:
                    raise TransportError(
                        f"the engine closed the connection while the body was sent: {broken}"
                    ) from broken
                return event
        response = _response(event, connection, reader)
        body = b""
        with contextlib.suppress(OSError, TimeoutError):
            body = await asyncio.wait_for(response.body(), EARLY_ANSWER)
        raise ApiError(response.status, _message(response.status, body))
    finally:
        for task in (sender, head):
            if not task.done():
                task.cancel()  # the producer is closed with the sender
                await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: what it raised was dealt with above


def _is_error(event: Any) -> bool:
    return isinstance(event, h11.Response) and event.status_code >= 400


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
        *,
        upload: Upload | None = None,
        headers: Mapping[str, str] | None = None,
        head_timeout: float | None = HEAD_TIMEOUT,
    ) -> AsyncIterator[Response]:
        """Send a request (a JSON ``body``, or an ``upload``); yield its response
        once the headers arrived (the body is read as it comes). An error status
        raises ``ApiError``. The connection, and the head of an answer to a
        request without an upload, must come within ``head_timeout`` seconds
        (an engine that stopped answering raises ``TransportError``)."""
        if body is not None and upload is not None:
            raise ValueError("a request has a JSON body or an upload, not both")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.path), head_timeout
            )
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise Unreachable(self.path, exc.strerror or type(exc).__name__) from exc
        except TimeoutError:
            raise TransportError(
                f"{method} {path}: no connection to {self.path} within {head_timeout:g}s"
            ) from None
        try:
            connection = h11.Connection(h11.CLIENT)
            fields = [("Host", "engine"), ("Connection", "close"), *(headers or {}).items()]
            data = None if body is None else json.dumps(body).encode()
            if data is not None:
                fields.append(("Content-Type", "application/json"))
                fields.append(("Content-Length", str(len(data))))
            if upload is not None:
                fields.append(("Content-Type", upload.content_type))
                if upload.size is None:
                    fields.append(("Transfer-Encoding", "chunked"))
                else:
                    fields.append(("Content-Length", str(upload.size)))
            writer.write(connection.send(h11.Request(
                method=method, target=_target(path, params), headers=fields
            )))  # fmt: skip
            if upload is not None:
                head = await _upload(connection, reader, writer, upload)
            else:
                if data:
                    writer.write(connection.send(h11.Data(data=data)))
                writer.write(connection.send(h11.EndOfMessage()))
                try:
                    await asyncio.wait_for(writer.drain(), head_timeout)
                    head = await asyncio.wait_for(_next_event(connection, reader), head_timeout)
                except TimeoutError:
                    raise TransportError(
                        f"{method} {path}: the engine did not answer within {head_timeout:g}s"
                    ) from None
            if not isinstance(head, h11.Response):
                raise TransportError(f"the engine answered {type(head).__name__}, not a response")
            response = _response(head, connection, reader)
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
        upload: Upload | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = TIMEOUT,
    ) -> Any:
        """One request; its JSON answer (None for an empty one; the text of
        one that is not JSON, such as ``/_ping``'s ``OK``)."""

        async def exchange() -> tuple[bytes, str]:
            request = self.stream(
                method, path, params, body, upload=upload, headers=headers, head_timeout=timeout
            )
            async with request as response:
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
        self,
        path: str,
        params: Params | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = TIMEOUT,
    ) -> Any:
        return await self.call("GET", path, params, headers=headers, timeout=timeout)

    async def post(
        self,
        path: str,
        params: Params | None = None,
        body: Any = None,
        *,
        upload: Upload | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = TIMEOUT,
    ) -> Any:
        return await self.call(
            "POST", path, params, body, upload=upload, headers=headers, timeout=timeout
        )

    async def delete(
        self,
        path: str,
        params: Params | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = TIMEOUT,
    ) -> Any:
        return await self.call("DELETE", path, params, headers=headers, timeout=timeout)


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
