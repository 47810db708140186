"""``corral daemon``: the supervisor, its control socket, signals, sd_notify.

SIGTERM or SIGINT stops every service (dependents first) and exits; SIGHUP
reopens the log files. READY=1 goes to ``$NOTIFY_SOCKET`` once the socket
serves, so a systemd ``Type=notify`` unit works.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

from corral.config import Config
from corral.config.http import Http
from corral.control.server import ControlServer, claim_socket
from corral.engine.runner import use_child_waiter
from corral.errors import CorralError
from corral.paths import state_dir
from corral.privacy import private_dir
from corral.supervisor.engines import EngineHub
from corral.supervisor.logs import DaemonStream, LogFiles, Rotation
from corral.supervisor.reaper import Reaper
from corral.supervisor.respawn import SystemClock
from corral.supervisor.runner import RunContext
from corral.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from corral.web.page import StatusPage


#: ``$NOTIFY_SOCKET``, taken out of the environment when the daemon starts (as
#: sd_notify's unset_environment does): the engines and processes it starts
#: must not speak for the unit (``podman system service`` would send READY=1
#: and its own MAINPID there).
_notify_socket: str | None = None


def take_notify_socket() -> None:
    global _notify_socket
    _notify_socket = os.environ.pop("NOTIFY_SOCKET", None) or _notify_socket


def notify(state: str) -> None:
    address = _notify_socket
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as connection:
        connection.sendto(state.encode(), address)


def say(text: str) -> None:
    """A line in the daemon's log; one that cannot be written is dropped, never raised."""
    with contextlib.suppress(OSError, ValueError):
        print(f"corral daemon: {text}", file=sys.stderr, flush=True)


def run_daemon(
    config: Config, socket_path: str, rotation: Rotation, up: bool = False, http: Http | None = None
) -> None:
    """Serve until SIGTERM; with ``up``, start every auto_start service once serving;
    with ``http`` (else the configuration's ``[http]``), the status page too.

    The daemon's stdout and stderr become ``DaemonStream``s: a full disk under
    its log never makes it exit (nor skip stopping its services on SIGTERM)."""
    sys.stdout, sys.stderr = DaemonStream(1), DaemonStream(2)
    take_notify_socket()
    private_dir(state_dir(config.state_dir), "state directory")
    lock = claim_socket(socket_path)
    try:
        asyncio.run(_serve(config, socket_path, rotation, up, http or config.http))
    finally:
        os.close(lock)


async def _serve(
    config: Config, socket_path: str, rotation: Rotation, up: bool, http: Http | None
) -> None:
    loop = asyncio.get_running_loop()
    reaper = Reaper()
    reaper.install(loop)
    logs = LogFiles(rotation, notice=say)
    directory = state_dir(config.state_dir)
    os.makedirs(os.path.join(directory, "logs"), exist_ok=True)
    use_child_waiter(reaper)  # engine CLI exits come through the one reaper
    context = RunContext(
        clock=SystemClock(),
        reaper=reaper,
        logs=logs,
        state_dir=directory,
        engines=EngineHub.for_config(config, directory),
        runtime_dir=os.path.dirname(os.path.abspath(socket_path)),
    )
    await _activate(config)
    supervisor = Supervisor(config, context)
    finish = asyncio.Event()
    for signo in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signo, finish.set)
    loop.add_signal_handler(signal.SIGHUP, logs.reopen_all)
    server = ControlServer(supervisor, socket_path, finish)
    page = None
    try:
        if http is not None:
            page = await _open_page(supervisor, http, directory)
        async with asyncio.TaskGroup() as group:
            group.create_task(supervisor.run(finish))
            await supervisor.ready.wait()
            await server.open()
            say(f"pid {os.getpid()} serving {socket_path}, state in {directory}")
            notify("READY=1")
            if up:
                group.create_task(_up(supervisor))
            await finish.wait()
            notify("STOPPING=1")
            say("stopping every service")
    finally:
        if page is not None:
            await page.close()
        await server.close()
        await context.engines.close()
        logs.close_all()
        use_child_waiter(None)
        reaper.uninstall()
    say("stopped")


async def _open_page(supervisor: Supervisor, http: Http, directory: str) -> StatusPage:
    """The status page, serving (before any service starts: a page that cannot
    be served stops the daemon at once); the web modules are imported only here."""
    from corral.config.http import http_problems
    from corral.web.page import StatusPage

    problems = http_problems(http)
    if problems:
        raise CorralError("; ".join(f"[http] {name}: {message}" for name, message in problems))
    page = StatusPage(supervisor, http, directory)
    await page.open()
    say(f"status page on {page.url} (corral dashboard prints it with its token)")
    return page


async def _up(supervisor: Supervisor) -> None:
    failures = await supervisor.up()
    for name, reason in failures.items():
        say(f"up: {reason if reason.startswith(name + ': ') else f'{name}: {reason}'}")


async def _activate(config: Config) -> None:
    """Activation before the first service starts; a failure is said, not fatal
    (the services it concerns will fail to start, saying why)."""
    from corral.supervisor import activation

    try:
        steps = activation.plan(config)
        for step in steps:
            say(f"activation: {step}")
        await activation.apply(steps)
    except CorralError as error:
        say(str(error))
