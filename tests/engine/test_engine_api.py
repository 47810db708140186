"""The Engine API transport (h11 over a Unix socket) against a server on a
real socket that answers what each test scripts: framing, streams split at
awkward places, errors, and answers that are not HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from corral.engine.api import (
    ApiError,
    EngineApi,
    TransportError,
    Upload,
    json_stream,
    log_stream,
    path_of,
)

T = TypeVar("T")


#: What ``serve`` records after a body the client cut short.
CUT = b"<cut>"


async def read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """A request's body by its framing (``Content-Length``, or chunked: then
    the chunks' data, joined); what came followed by ``CUT`` when the client
    closed the connection before the body's end."""
    fields = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
    }
    data = bytearray()
    try:
        if fields.get(b"transfer-encoding") == b"chunked":
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                data += (await reader.readexactly(size + 2))[:-2]
            await reader.readexactly(2)
        elif length := int(fields.get(b"content-length", b"0")):
            while len(data) < length:
                more = await reader.read(length - len(data))
                if not more:
                    return bytes(data) + CUT
                data += more
    except asyncio.IncompleteReadError as cut:
        return bytes(data) + cut.partial + CUT
    return bytes(data)


def serve(
    tmp_path: Path, answers: list[bytes], scenario: Callable[[EngineApi], Awaitable[T]]
) -> tuple[T, list[bytes]]:
    """Run ``scenario`` against a server that reads each request's head and
    writes the next of ``answers`` piece by piece (pieces split on ``b"|"``),
    then closes. Returns the scenario's result and the requests seen."""
    path = str(tmp_path / "engine.sock")
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = await read_body(reader, head)
        seen.append(head + body)
        if body.endswith(CUT):  # the client gave up: nobody reads an answer
            writer.close()
            return
        for piece in answers.pop(0).split(b"|"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()

    async def main() -> T:
        server = await asyncio.start_unix_server(answer, path)
        async with server:
            return await asyncio.wait_for(scenario(EngineApi(path)), 10)

    return asyncio.run(main()), seen


def chunked(*pieces: bytes) -> bytes:
    """A chunked body, each piece a chunk (and a write of its own)."""
    body = b"|".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n|" + body + b"|0\r\n\r\n"


def test_a_json_answer_and_what_the_request_carried(tmp_path: Path) -> None:
    body = json.dumps({"Id": "abc"}).encode()
    answer = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    )
    result, seen = serve(
        tmp_path,
        [answer % (len(body), body)],
        lambda api: api.post("/containers/create", {"name": "a b", "all": True}, {"Image": "x"}),
    )
    assert result == {"Id": "abc"}
    request = seen[0].decode()
    assert request.startswith("POST /containers/create?name=a+b&all=1 HTTP/1.1\r\n")
    assert "content-type: application/json" in request.lower()
    assert request.endswith('{"Image": "x"}')


def test_an_error_status_carries_the_engines_message(tmp_path: Path) -> None:
    as_json = b'{"message": "No such container: nope"}'
    answers = [
        b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(as_json), as_json),
        b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom",
        b"HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n",
    ]

    async def scenario(api: EngineApi) -> list[tuple[int, str]]:
        errors = []
        for _ in answers[:]:
            with pytest.raises(ApiError) as caught:
                await api.get("/x")
            errors.append((caught.value.status, caught.value.message))
        return errors

    errors, _ = serve(tmp_path, answers, scenario)
    assert errors == [(404, "No such container: nope"), (500, "boom"), (409, "HTTP 409")]


def test_a_text_answer_is_text_and_an_empty_one_none(tmp_path: Path) -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]

    async def scenario(api: EngineApi) -> list[Any]:
        return [await api.get("/_ping"), await api.post("/containers/x/start")]

    assert serve(tmp_path, answers, scenario)[0] == ["OK", None]


def test_json_objects_split_anywhere_in_a_stream(tmp_path: Path) -> None:
    events = b'{"status": "start", "id": "a"}\n{"status": "die", "id": "a"}\n{"status": "x"}'

    async def scenario(api: EngineApi) -> list[dict[str, Any]]:
        async with api.stream("GET", "/events") as response:
            return [event async for event in json_stream(response)]

    pieces = (events[:7], events[7:31], events[31:45], events[45:], b"\n")
    found, _ = serve(tmp_path, [chunked(*pieces)], scenario)
    assert [e["status"] for e in found] == ["start", "die", "x"]


def test_log_frames_split_across_chunks_are_put_together(tmp_path: Path) -> None:
    def frame(stream: int, data: bytes) -> bytes:
        return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data

    framed = frame(1, b"one\n") + frame(2, b"") + frame(2, b"two\n") + frame(1, b"x" * 70000)

    async def scenario(api: EngineApi) -> list[bytes]:
        async with api.stream("GET", "/containers/a/logs") as response:
            return [data async for data in log_stream(response, tty=False)]

    pieces = (framed[:3], framed[3:10], framed[10:20], framed[20:40000], framed[40000:])
    found, _ = serve(tmp_path, [chunked(*pieces)], scenario)
    assert found == [b"one\n", b"two\n", b"x" * 70000]


def test_a_closed_connection_and_an_answer_that_is_not_http(tmp_path: Path) -> None:
    async def scenario(api: EngineApi) -> list[str]:
        messages = []
        for _ in range(2):
            with pytest.raises(TransportError) as caught:
                await api.get("/version")
            messages.append(str(caught.value))
        return messages

    messages, _ = serve(tmp_path, [b"", b"SSH-2.0-OpenSSH\r\n\r\n"], scenario)
    assert "closed the connection without answering" in messages[0]
    assert "not HTTP" in messages[1]


def test_a_request_the_engine_does_not_answer_times_out(tmp_path: Path) -> None:
    path = str(tmp_path / "silent.sock")

    async def main() -> str:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)
            writer.close()

        server = await asyncio.start_unix_server(silent, path)
        async with server:
            with pytest.raises(TransportError) as caught:
                await EngineApi(path).get("/version", timeout=0.2)
            return str(caught.value)

    assert asyncio.run(main()) == "GET /version: the engine did not answer within 0.2s"


def test_no_socket_is_unreachable_and_an_os_error(tmp_path: Path) -> None:
    from corral.engine.api import Unreachable

    path = str(tmp_path / "none.sock")
    with pytest.raises(Unreachable) as caught:
        asyncio.run(EngineApi(path).get("/_ping"))
    assert isinstance(caught.value, OSError)
    assert caught.value.why == "No such file or directory"
    assert str(caught.value) == f"nothing answers on {path}: No such file or directory"


def test_a_refusing_socket_is_unreachable(tmp_path: Path) -> None:
    import socket

    from corral.engine.api import Unreachable

    path = str(tmp_path / "dead.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)  # bound, never listening: what a dead engine leaves
        with pytest.raises(Unreachable) as caught:
            asyncio.run(EngineApi(path).get("/_ping"))
    assert caught.value.why == "Connection refused"


def test_an_engine_that_accepts_but_never_answers_misses_the_deadline(tmp_path: Path) -> None:
    import socket

    from corral.engine.api import TransportError

    path = str(tmp_path / "paused.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(8)  # the kernel accepts; nobody reads (a SIGSTOPped engine)

        async def main() -> None:
            async with EngineApi(path).stream("GET", "/events", head_timeout=0.2):
                pass

        with pytest.raises(TransportError) as caught:
            asyncio.run(main())
    assert str(caught.value) == "GET /events: the engine did not answer within 0.2s"


OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def head_fields(request: bytes) -> dict[str, str]:
    head = request.split(b"\r\n\r\n", 1)[0].decode()
    return {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])
    }


def body_of(request: bytes) -> bytes:
    return request.split(b"\r\n\r\n", 1)[1]


class Producer:
    """An upload's chunks: ``pieces``, then ``error`` if given; records whether
    it was closed (its ``finally`` ran) before the request returned."""

    def __init__(self, pieces: list[bytes], error: Exception | None = None) -> None:
        self.pieces = pieces
        self.error = error
        self.closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            for piece in self.pieces:
                await asyncio.sleep(0)
                yield piece
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


def test_request_headers_are_sent(tmp_path: Path) -> None:
    _, seen = serve(
        tmp_path,
        [OK_EMPTY, OK_EMPTY],
        lambda api: asyncio.gather(
            api.get("/images/x/json", headers={"X-Registry-Auth": "e30="}),
            api.post("/images/create", {"fromImage": "a"}, headers={"X-Registry-Auth": "e30="}),
        ),
    )
    assert [head_fields(request)["x-registry-auth"] for request in seen] == ["e30=", "e30="]


def test_an_upload_of_known_size_has_a_content_length(tmp_path: Path) -> None:
    pieces = [b"a" * 70000, b"", b"b" * 3, b"c" * 200000]
    size = sum(map(len, pieces))
    producer = Producer(pieces)
    _, seen = serve(
        tmp_path,
        [OK_EMPTY],
        lambda api: api.post(
            "/images/create", {"fromSrc": "-"}, upload=Upload(producer.chunks(), size=size)
        ),
    )
    fields = head_fields(seen[0])
    assert fields["content-length"] == str(size) and "transfer-encoding" not in fields
    assert fields["content-type"] == "application/x-tar"
    assert body_of(seen[0]) == b"".join(pieces)
    assert producer.closed


def test_an_upload_of_unknown_size_is_chunked(tmp_path: Path) -> None:
    pieces = [b"x" * n for n in (1, 0, 65536, 5, 300000)]
    result, seen = serve(
        tmp_path,
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"],
        lambda api: api.post(
            "/images/load", upload=Upload(Producer(pieces).chunks(), content_type="x/y")
        ),
    )
    fields = head_fields(seen[0])
    assert fields["transfer-encoding"] == "chunked" and "content-length" not in fields
    assert fields["content-type"] == "x/y"
    assert body_of(seen[0]) == b"".join(pieces)
    assert result == {}


@pytest.mark.parametrize("sized", [True, False])
def test_a_failing_producer_cuts_the_body_and_its_error_is_raised(
    tmp_path: Path, sized: bool
) -> None:
    """The engine sees the connection closed before the body's end (so it
    registers nothing), and the caller the producer's own error."""
    producer = Producer([b"p" * 100000, b"q" * 10], error=LookupError("a file changed"))

    async def scenario(api: EngineApi) -> str:
        upload = Upload(producer.chunks(), size=200000 if sized else None)
        with pytest.raises(LookupError) as caught:
            await api.post("/images/load", upload=upload)
        await asyncio.sleep(0.1)  # the server has recorded what came
        return str(caught.value)

    message, seen = serve(tmp_path, [OK_EMPTY], scenario)
    assert message == "a file changed"
    body = body_of(seen[0])
    assert body.endswith(CUT)
    if sized:
        assert body == b"p" * 100000 + b"q" * 10 + CUT
    assert producer.closed


@pytest.mark.parametrize(
    ("pieces", "said"),
    [([b"x" * 10], "has 10 bytes, not the 11"), ([b"x" * 10, b"y" * 2], "more than the 11")],
)
def test_an_upload_that_is_not_its_declared_size_is_cut(
    tmp_path: Path, pieces: list[bytes], said: str
) -> None:
    async def scenario(api: EngineApi) -> str:
        with pytest.raises(TransportError) as caught:
            await api.post("/images/load", upload=Upload(Producer(pieces).chunks(), size=11))
        await asyncio.sleep(0.1)
        return str(caught.value)

    message, seen = serve(tmp_path, [OK_EMPTY], scenario)
    assert said in message
    assert body_of(seen[0]).endswith(CUT)


def test_an_engine_that_answers_before_the_body_ends_is_heard(tmp_path: Path) -> None:
    """The engine refuses at once, as Go's server does (answer, half-close, close
    half a second later): its answer, not a broken pipe."""
    path = str(tmp_path / "early.sock")
    producer = Producer([bytes(1 << 20)] * 64)
    refusal = b'{"message": "no space left on device"}'

    async def early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(1000)
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s" % (
            len(refusal), refusal))  # fmt: skip
        await writer.drain()
        writer.write_eof()
        await asyncio.sleep(0.5)
        writer.close()

    async def main() -> ApiError:
        server = await asyncio.start_unix_server(early, path)
        async with server:
            with pytest.raises(ApiError) as caught:
                await EngineApi(path).post("/images/load", upload=Upload(producer.chunks()))
            return caught.value

    error = asyncio.run(asyncio.wait_for(main(), 10))
    assert (error.status, error.message) == (500, "no space left on device")
    assert producer.closed


def test_a_body_and_an_upload_are_not_both_sent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        asyncio.run(
            EngineApi(str(tmp_path / "none.sock")).post(
                "/x", body={"a": 1}, upload=Upload(Producer([]).chunks())
            )
        )


def test_path_parts_are_one_segment_each() -> None:
    assert path_of("containers", "web", "json") == "/containers/web/json"
    assert path_of("images", "corral-test/busybox:1", "json") == (
        "/images/corral-test%2Fbusybox%3A1/json"
    )
    assert path_of("containers", "a?b#c") == "/containers/a%3Fb%23c"
