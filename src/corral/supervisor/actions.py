"""Running actions: a declared one's command, and the shape of ``command-line``'s
answer. (Which built-ins exist is ``corral.actions.BUILTIN_ACTIONS``; the supervisor
implements them.)

A declared action runs its argv with ``CORRAL_SERVICE`` set; its output
(stdout and stderr together) is returned to the caller. A non-zero exit
raises ``CommandError`` with that output.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess

from corral.config import Action
from corral.errors import CommandError
from corral.supervisor.reaper import Reaper

ACTION_TIMEOUT = 60.0


def declared_action(actions: tuple[Action, ...], name: str) -> Action | None:
    return next((a for a in actions if a.name == name), None)


def command_line(argv: list[str]) -> str:
    return shlex.join(argv)


async def run_action(
    action: Action, service: str, reaper: Reaper, container: str | None = None
) -> str:
    """Run ``action`` for ``service`` (with ``CORRAL_CONTAINER`` set for a
    container); its output, or ``CommandError``."""
    env = dict(os.environ, CORRAL_SERVICE=service)
    if container is not None:
        env["CORRAL_CONTAINER"] = container
    argv = list(action.command)
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            env=env,
            start_new_session=True,
        )
    except OSError as error:
        os.close(read_end)
        raise CommandError(argv, 127, stderr=f"cannot run: {error.strerror}") from None
    finally:
        os.close(write_end)
    exited = reaper.watch(process)
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    eof: asyncio.Future[None] = loop.create_future()
    os.set_blocking(read_end, False)

    def readable() -> None:
        try:
            data = os.read(read_end, 65536)
        except BlockingIOError:
            return
        if data:
            chunks.append(data)
            return
        loop.remove_reader(read_end)
        os.close(read_end)
        eof.set_result(None)

    loop.add_reader(read_end, readable)
    try:
        async with asyncio.timeout(ACTION_TIMEOUT):
            code = await exited
            await eof
    except TimeoutError:
        os.killpg(process.pid, 9)
        raise CommandError(argv, -9, stderr=f"timed out after {ACTION_TIMEOUT:g} s") from None
    output = b"".join(chunks).decode(errors="replace")
    if code != 0:
        raise CommandError(argv, code, stdout=output, stderr=output)
    return output
