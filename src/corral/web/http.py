"""A small HTTP/1.1 server: h11 does the protocol, asyncio's streams the bytes.

h11 is the daemon's HTTP library already (the Engine API client,
``corral.engine.api``); serving with it costs the daemon no import. A handler
gets a ``Request`` and returns a ``Response`` (a body), or a ``Stream`` (an
async iterator of chunks: server-sent events, a log being followed), which
ends when the client goes away or the server closes. Connections are kept
alive; bodies are small (``MAX_BODY``); every connection's task ends when the
server closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

import h11

#: Largest request body read (the page's requests carry none).
MAX_BODY = 64 * 1024
#: Seconds a connection may stay idle between requests.
IDLE = 60.0
READ_SIZE = 65536
REASONS = {
    200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    413: "Payload Too Large", 500: "Internal Server Error",
}  # fmt: skip


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    #: lower-case names, the last value of each
    headers: dict[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            jar.load(self.headers.get("cookie", ""))
        return {k: m.value for k, m in jar.items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Stream:
    """A response whose body is ``chunks``, sent as they come (chunked)."""

    chunks: AsyncIterator[bytes]
    content_type: str = "text/event-stream"
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response | Stream]]
#: Headers every response carries.
Common = Callable[[], list[tuple[str, str]]]


class HttpServer:
    def __init__(self, handler: Handler, common: Common = list) -> None:
        self.handler = handler
        self.common = common
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(
            self._connection, host, port, ssl=tls, reuse_address=True
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError, h11.ProtocolError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER)
        while True:
            request = await self._read(connection, reader)
            if request is None:
                return
            try:
                answer = await self.handler(request)
            except Exception as error:  # an answer, not a dropped connection
                answer = Response(500, f"{type(error).__name__}: {error}\n".encode())
            if isinstance(answer, Stream):
                await self._stream(connection, reader, writer, answer)
                return
            headers = [
                ("content-type", answer.content_type),
                ("content-length", str(len(answer.body))),
                *self.common(),
                *answer.headers,
            ]
            writer.write(
                connection.send(h11.Response(status_code=answer.status, headers=headers,
                                             reason=REASONS.get(answer.status, "")))
                + connection.send(h11.Data(data=answer.body))
                + connection.send(h11.EndOfMessage())
            )  # fmt: skip
            await writer.drain()
            if connection.our_state is h11.MUST_CLOSE or connection.their_state is not h11.DONE:
                return
            connection.start_next_cycle()

    async def _read(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> Request | None:
        head: h11.Request | None = None
        body = b""
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(reader.read(READ_SIZE), IDLE)
                connection.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    return None
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in head.headers}
                return Request(head.method.decode(), head.target.decode("latin-1"), headers, body)
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    async def _stream(
        self,
        connection: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        answer: Stream,
    ) -> None:
        headers = [
            ("content-type", answer.content_type),
            ("cache-control", "no-store"),
            *self.common(),
            *answer.headers,
        ]
        writer.write(connection.send(h11.Response(status_code=200, headers=headers)))
        await writer.drain()
        # the client going away ends the stream; nothing else is read meanwhile
        gone = asyncio.ensure_future(reader.read(READ_SIZE))
        try:
            async for chunk in _until(answer.chunks, gone):
                writer.write(connection.send(h11.Data(data=chunk)))
                await writer.drain()
            writer.write(connection.send(h11.EndOfMessage()))
            await writer.drain()
        finally:
            gone.cancel()
            aclose = getattr(answer.chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()


async def _until(chunks: AsyncIterator[bytes], gone: asyncio.Future[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` until they end or ``gone`` is done (the client closed)."""
    while True:
        step = asyncio.ensure_future(anext(chunks))
        await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not step.done():
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
            return
        try:
            yield step.result()
        except StopAsyncIteration:
            return
