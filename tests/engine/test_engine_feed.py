"""A synchronous writer as a request body (``engine.feed.written_by``): what it
writes arrives as it writes it, its error after that, and neither a failing
writer nor a consumer that stops early leaves a thread or a pipe behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from corral.engine.feed import Writer, written_by
from corral.errors import ImageError

MiB = 1 << 20


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    threads, fds = threading.active_count(), set(os.listdir("/proc/self/fd"))
    yield
    assert threading.active_count() <= threads
    assert set(os.listdir("/proc/self/fd")) <= fds


async def drained(write: Writer) -> bytes:
    return b"".join([chunk async for chunk in written_by(write)])


def test_what_is_written_arrives_whole() -> None:
    def write(fh: BinaryIO) -> None:
        for i in range(40):
            fh.write(bytes([i]) * (MiB // 3))

    assert asyncio.run(drained(write)) == b"".join(bytes([i]) * (MiB // 3) for i in range(40))
    assert asyncio.run(drained(lambda fh: None)) == b""


def test_a_failing_writer_delivers_what_it_wrote_then_its_error() -> None:
    def write(fh: BinaryIO) -> None:
        fh.write(b"x" * (3 * MiB))
        raise ImageError("a file changed")

    async def scenario() -> int:
        got = 0
        with pytest.raises(ImageError, match="a file changed"):
            async for chunk in written_by(write):
                got += len(chunk)
        return got

    assert asyncio.run(scenario()) == 3 * MiB


def test_a_consumer_that_stops_early_ends_the_writer() -> None:
    """The read end is closed: the writer's next write fails (EPIPE), which
    ends it quietly, before the iteration is over."""
    wrote: list[int] = []

    def write(fh: BinaryIO) -> None:
        for _ in range(1024):  # 1 GiB, were it all read
            fh.write(bytes(MiB))
            wrote.append(1)

    async def scenario() -> None:
        chunks = written_by(write)
        async for _ in chunks:
            break
        await chunks.aclose()

    asyncio.run(scenario())
    assert len(wrote) < 1024


def test_a_consumer_cancelled_while_the_writer_waits_leaves_nothing() -> None:
    """An engine that never reads (a timeout): the writer is blocked on a full
    pipe, and the cancellation frees it."""

    def write(fh: BinaryIO) -> None:
        for _ in range(64):
            fh.write(bytes(MiB))

    async def scenario() -> None:
        async def slow() -> None:
            async with contextlib.aclosing(written_by(write)) as chunks:  # as api.py does
                async for _ in chunks:
                    await asyncio.sleep(10)

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), 0.5)

    asyncio.run(scenario())
