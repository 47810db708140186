"""A synchronous writer as a request body: it runs in a thread of its own,
writing into a pipe, and the event loop sends what arrives.

The image builder writes its archive to a file object (``Digested.stream``),
reading source files as it goes; that must not run on the event loop. So
``written_by`` runs the writer in a thread whose file object is the write end
of a pipe (widened to ``PIPE_SIZE`` when the kernel allows), and yields what
the read end delivers, as ``api.Upload``'s chunks. The pipe is the
back-pressure: the writer waits while the engine is slow to read.

When the writer fails, what it wrote is yielded and then its error is raised
(the request is then aborted, so the engine sees a cut body). When the
consumer stops early (the engine went away, a cancellation), the read end is
closed: the writer's next write fails with ``BrokenPipeError``, which ends it
quietly. Either way the thread has ended when the iteration does (unless
the iteration itself is cancelled while the writer is still finishing a write).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO

#: Writes a request's body into a file object.
Writer = Callable[[BinaryIO], object]
#: The pipe's buffer (when the kernel allows), and the writer's in front of it.
PIPE_SIZE = 1 << 20
#: The most the event loop reads from the pipe at once.
READ_SIZE = 1 << 20


def widen_pipe(fd: int) -> None:
    """Ask for a ``PIPE_SIZE`` pipe buffer (fewer switches between writer and reader)."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _close_quietly(fh: BinaryIO) -> None:
    """Close ``fh``; what it could not flush into a closed pipe is dropped."""
    with contextlib.suppress(OSError):
        fh.close()


async def written_by(write: Writer, name: str = "corral-feed") -> AsyncIterator[bytes]:
    """What ``write`` writes, as it arrives; then ``write``'s error, if it failed."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    r, w = os.pipe()
    widen_pipe(w)
    out = open(w, "wb", buffering=PIPE_SIZE)  # noqa: SIM115 (the thread closes it)

    def finish(error: BaseException | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            write(out)
            out.flush()
        except BrokenPipeError:
            pass  # the reader went away: it knows why
        except BaseException as exc:
            error = exc
        finally:
            _close_quietly(out)  # the end of the body (or where it was cut)
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                loop.call_soon_threadsafe(finish, error)

    stream = asyncio.StreamReader(limit=READ_SIZE, loop=loop)
    try:
        source = open(r, "rb", buffering=0)  # noqa: SIM115 (the transport owns it)
    except BaseException:
        os.close(r)
        _close_quietly(out)
        raise
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream, loop=loop), source
        )
    except BaseException:
        source.close()
        _close_quietly(out)
        raise
    thread = threading.Thread(target=run, name=name, daemon=True)
    try:
        thread.start()
    except BaseException:
        transport.close()
        _close_quietly(out)
        raise
    try:
        while chunk := await stream.read(READ_SIZE):
            yield chunk
        await done  # the writer's error, if it failed
    finally:
        transport.close()  # a writer still writing gets EPIPE, and ends
        if not done.done():
            with contextlib.suppress(Exception):  # stopped early: its error is moot
                await asyncio.shield(done)
        elif not done.cancelled():
            done.exception()  # retrieved, whatever it was
        thread.join()  # it has said it is done: only its return is left
