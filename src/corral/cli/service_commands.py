"""Commands that talk to the supervisor daemon over its control socket.

Imports stay lazy: ``corral status`` loads neither the supervisor nor rich
unless it needs them, so a status query costs little more than the socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

from corral.actions import BUILTIN_ACTIONS
from corral.cli._app import Options, command, pass_options
from corral.errors import CorralError, DeadlineError
from corral.paths import find_config


def _socket(options: Options) -> str:
    if options.socket:
        return options.socket
    from corral.paths import default_socket

    return default_socket()


#: Each command's default deadline in seconds (``--timeout`` overrides it): a
#: question is answered at once; a start may wait for an image, a health check
#: and requirements; ``up``, ``down`` and ``reload`` may pull, build or stop many.
TIMEOUTS = {
    "status": 5.0,
    "log_source": 5.0,
    "start": 300.0,
    "stop": 300.0,
    "restart": 300.0,
    "enable": 30.0,
    "disable": 30.0,
    "action": 600.0,
    "up": 900.0,
    "down": 900.0,
    "plan": 60.0,
    "reload": 900.0,
    "update": 1800.0,
}


def timeout_option(op: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--timeout SECONDS``, defaulting to ``TIMEOUTS[op]``."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=TIMEOUTS[op],
        show_default=True,
        metavar="SECONDS",
        help="Give up waiting for the daemon after this long (exit 3).",
    )


def _call(
    options: Options,
    op: str,
    timeout: float | None = None,
    on_transfer: Callable[[dict[str, Any]], None] | None = None,
    **arguments: Any,
) -> Any:
    from corral.control.client import NoDaemon, RequestFailed, TimedOut, request

    try:
        return request(
            _socket(options), op, timeout=timeout or TIMEOUTS.get(op, 30.0),
            on_transfer=on_transfer, **arguments,
        )  # fmt: skip
    except NoDaemon as error:
        raise CorralError(str(error)) from None
    except TimedOut as error:
        raise DeadlineError(str(error)) from None
    except RequestFailed as error:
        if error.code == "invalid-config":
            from corral.errors import ConfigError, Problem

            raise ConfigError([Problem(line) for line in str(error).splitlines()]) from None
        raise CorralError(str(error)) from None
    except OSError as error:
        raise CorralError(f"talking to the daemon on {_socket(options)}: {error}") from None


@contextlib.contextmanager
def _transfers_shown() -> Iterator[Callable[[dict[str, Any]], None]]:
    """What shows the daemon's pulls and pushes for a request: layer bars on a
    terminal (for as long as the ``with`` lasts), one line per image otherwise."""
    from corral.cli.progress import DaemonTransfers, bars

    shown = bars() if sys.stderr.isatty() else None
    try:
        yield DaemonTransfers(shown)
    finally:
        if shown is not None:
            shown.stop()


def _config_path(options: Options, validate: bool = True) -> str:
    """The configuration file, absolute; without ``validate`` it is only located
    (the daemon validates it), which keeps the client free of heavy imports."""
    if validate:
        return os.path.abspath(options.loaded().path)
    return os.path.abspath(find_config(options.config_path))


# -- the daemon -------------------------------------------------------------


@command("daemon")
@click.option("--log-max-bytes", type=int, default=None, help="Rotate logs past this size.")
@click.option("--log-keep", type=int, default=None, help="Rotated logs to keep.")
@click.option(
    "--up", "start_up", is_flag=True,
    help="Start every auto_start service once serving, as `corral up` does (for boot).",
)  # fmt: skip
@click.option(
    "--http", "http_listen", metavar="ADDR",
    help="Serve the status page on ADDR (HOST:PORT), as [http] listen does.",
)  # fmt: skip
@pass_options
def daemon(
    options: Options,
    log_max_bytes: int | None,
    log_keep: int | None,
    start_up: bool,
    http_listen: str | None,
) -> None:
    """Run the supervisor in the foreground (for systemd: Type=notify)."""
    from corral.control.daemon import run_daemon
    from corral.supervisor.logs import DEFAULT_KEEP, DEFAULT_MAX_BYTES, Rotation

    rotation = Rotation(
        max_bytes=log_max_bytes if log_max_bytes is not None else DEFAULT_MAX_BYTES,
        keep=log_keep if log_keep is not None else DEFAULT_KEEP,
    )
    config = options.loaded().config
    http = None
    if http_listen is not None:
        from corral.cli.web_commands import http_option

        http = http_option(config.http, http_listen)
    run_daemon(config, _socket(options), rotation, up=start_up, http=http)


@command("up")
@timeout_option("up")
@pass_options
def up(options: Options, timeout: float) -> None:
    """Start the daemon if needed and every auto_start service; wait until they run.
    As any user but root, `corral doctor`'s errors refuse it first."""
    from corral.control.client import answers

    deadline = time.monotonic() + timeout
    if os.geteuid() != 0:
        from corral.cli.doctor_commands import refuse_on_errors

        refuse_on_errors(options)
    if not answers(_socket(options)):
        from corral.control.spawn import DAEMON_START_TIMEOUT, spawn_daemon

        spawn_daemon(
            _config_path(options, validate=False),
            _socket(options),
            up=False,  # the request below starts them: it hears their pulls from the first
            timeout=min(DAEMON_START_TIMEOUT, timeout),
        )
    answer = _waiting(options, "up", deadline, _up_done)
    failures: dict[str, str] = answer.get("failures", {})
    if failures:
        for name, reason in failures.items():
            click.echo(f"failed: {name}: {_unnamed(name, reason)}", err=True)
        raise CorralError(f"{len(failures)} service(s) failed: {', '.join(failures)}")
    click.echo("all services up")


def _unnamed(name: str, reason: str) -> str:
    """``reason`` without a leading ``name: `` (the line already names the service)."""
    prefix = f"{name}: "
    while reason.startswith(prefix):
        reason = reason[len(prefix) :]
    return reason


def _up_done(service: dict[str, Any]) -> bool:
    return bool(service["state"] == "running" or service["reason"] == "done")


def _down_done(service: dict[str, Any]) -> bool:
    return bool(service["state"] == "stopped")


def _waiting(
    options: Options, op: str, deadline: float, done: Any, **arguments: Any
) -> dict[str, Any]:
    """Ask the daemon for ``op`` (a long one) within ``deadline`` (monotonic),
    showing progress on a terminal; on the deadline, name the services not yet done."""
    import threading

    from corral.cli.progress import DaemonTransfers, bars

    outcome: dict[str, Any] = {}
    left = max(deadline - time.monotonic(), 0.001)
    shown = bars() if sys.stderr.isatty() else None
    transfers = DaemonTransfers(shown) if op == "up" else None

    def run() -> None:
        try:
            outcome["answer"] = _call(options, op, timeout=left, on_transfer=transfers, **arguments)
        except CorralError as error:
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        _progress(options, worker, "starting" if op == "up" else "stopping", done, shown)
    finally:
        if shown is not None:
            shown.stop()
    worker.join()
    error = outcome.get("error")
    if isinstance(error, DeadlineError):
        pending = _pending(options, done)
        if pending:
            raise DeadlineError(
                f"{error}; still waiting for {', '.join(pending)} "
                "(the daemon goes on: see `corral status`)"
            )
        raise error
    if error is not None:
        raise error
    answer: dict[str, Any] = outcome["answer"]
    return answer


def _pending(options: Options, done: Any) -> list[str]:
    """``NAME (state)`` of each service not ``done``, as far as a quick status tells."""
    try:
        services = _call(options, "status", timeout=2.0)["services"]
    except CorralError:
        return []
    return [f"{s['name']} ({s['state']})" for s in services if not done(s)]


def _progress(options: Options, worker: Any, verb: str, done: Any, shown: Any | None) -> None:
    """The services done, as a bar in ``shown`` (rich, on a terminal) until ``worker`` ends."""
    if shown is None:
        worker.join()
        return
    task = shown.add_task(verb, total=None)
    while worker.is_alive():
        try:
            services = _call(options, "status", timeout=2.0)["services"]
        except CorralError:
            services = None  # a slow answer only delays the bar
        if services is not None:
            finished = sum(1 for s in services if done(s))
            shown.update(task, total=len(services), completed=finished)
        worker.join(0.2)


@command("down")
@click.option(
    "--volumes", is_flag=True, help="Also delete the declared networks and volumes (their data)."
)
@timeout_option("down")
@pass_options
def down(options: Options, volumes: bool, timeout: float) -> None:
    """Stop every service (dependents first), remove corral's containers, stop the daemon."""
    from corral.control.client import wait_gone

    deadline = time.monotonic() + timeout
    answer = _waiting(options, "down", deadline, _down_done, volumes=volumes)
    if not wait_gone(_socket(options), max(deadline - time.monotonic(), 10.0)):
        raise DeadlineError(f"the daemon on {_socket(options)} still answers after `down`")
    failures = answer.get("failures", {})
    if failures:
        raise CorralError("; ".join(failures.values()))
    click.echo("stopped")


@command("activate")
@click.option("--dry-run", is_flag=True, help="Only print what would be done.")
@click.option(
    "--root",
    default="/",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Make the directories and helpers under this root instead of /.",
)
@pass_options
def activate(options: Options, dry_run: bool, root: str) -> None:
    """Prepare the host: accounts, engine state directories, Singularity's directories
    and setuid helpers. Idempotent: a second run has nothing to do."""
    import asyncio

    from corral.supervisor import activation

    steps = activation.plan(options.loaded().config, os.path.abspath(root))
    for step in steps:
        click.echo(("would: " if dry_run else "") + str(step))
    if not steps:
        click.echo("nothing to do")
    if not dry_run:
        asyncio.run(activation.apply(steps))


# -- questions --------------------------------------------------------------


@command("status")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--watch", is_flag=True, help="Keep the table on screen, updated on each change.")
@timeout_option("status")
@pass_options
def status(options: Options, name: str | None, as_json: bool, watch: bool, timeout: float) -> None:
    """Each service: state, enabled, pid, restarts, last exit, since, reason."""
    if watch:
        from corral.cli.watch import watch_status

        watch_status(_socket(options), name, as_json)
        return
    services: list[dict[str, Any]] = _call(options, "status", timeout, name=name)["services"]
    if as_json:
        click.echo(json.dumps(services, indent=2))
        return
    _table(services)


COLUMNS = (
    "name", "kind", "state", "enabled", "pid/id", "health", "restarts", "last_exit", "since",
    "reason",
)  # fmt: skip


def _cells(service: dict[str, Any]) -> list[str]:
    since = service.get("since")
    when = time.strftime("%H:%M:%S", time.localtime(since)) if since else "-"
    values = {**service, "since": when, "pid/id": service.get("pid") or service.get("container_id"),
              "reason": service.get("reason") or service.get("note")}  # fmt: skip
    log = service.get("log")
    if log:
        note = _log_note(log)
        values["reason"] = f"{values['reason']}; {note}" if values.get("reason") else note
    return ["-" if values.get(c) is None else str(values.get(c)) for c in COLUMNS]


def _log_note(log: dict[str, Any]) -> str:
    """``log: 1.2 MB dropped since 12:03:04 (No space left on device)``."""
    from corral.supervisor.logs import human_bytes

    when = time.strftime("%H:%M:%S", time.localtime(log["since"]))
    return f"log: {human_bytes(int(log['dropped_bytes']))} dropped since {when} ({log['error']})"


def _table(services: list[dict[str, Any]]) -> None:
    rows = [_cells(s) for s in services]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*COLUMNS)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def _each_command(op: str, doc: str) -> None:
    @click.argument("names", nargs=-1, required=True)
    @timeout_option(op)
    @pass_options
    def run(options: Options, names: tuple[str, ...], timeout: float) -> None:
        if op not in ("start", "restart"):
            _call(options, op, timeout, names=list(names))
            return
        with _transfers_shown() as transfers:  # a start may pull
            _call(options, op, timeout, transfers, names=list(names))

    run.__doc__ = doc
    run.__name__ = op
    command(op)(run)


_each_command("start", "Start services, their requirements first.")
_each_command("stop", "Stop services, their dependents first.")
_each_command("restart", "Restart services (and the dependents that were running).")
_each_command("enable", "Allow services to start again (clears a respawn limit).")
_each_command("disable", "Keep services from starting or respawning.")


@command("action")
@click.argument("name")
@click.argument("action")
@timeout_option("action")
@pass_options
def action(options: Options, name: str, action: str, timeout: float) -> None:
    with _transfers_shown() as transfers:
        answer = _call(options, "action", timeout, transfers, name=name, action=action)
    output = answer["output"]
    click.echo(output, nl=not output.endswith("\n"))


action.help = "Run ACTION on service NAME: a declared action, or a built-in one:\n\n" + "\n\n".join(
    f"{name}: {doc}" for name, doc in BUILTIN_ACTIONS.items()
)


# -- logs -------------------------------------------------------------------


def _log_source(options: Options, name: str, timeout: float) -> dict[str, str]:
    """Ask the daemon where ``name`` logs; without a daemon, read the configuration."""
    try:
        answer = _call(options, "log_source", timeout, name=name)
        return {
            k: str(v)
            for k, v in answer.items()
            if k in ("path", "runtime", "container", "build_log")
        }
    except CorralError:
        pass
    from corral.paths import state_dir
    from corral.supervisor.logsource import log_source

    config = options.loaded().config
    return log_source(config, name, state_dir(config.state_dir))


@command("logs")
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing, across restarts and rotation.")
@click.option("-n", "lines", type=int, default=10, show_default=True, help="Lines to show.")
@timeout_option("log_source")
@pass_options
def logs(options: Options, name: str, follow: bool, lines: int, timeout: float) -> None:
    """The service's log (stdout and stderr): its file, or the engine's log of a container.

    ``--timeout`` bounds the question to the daemon (where the log is), not ``-f``."""
    source = _log_source(options, name, timeout)
    if os.path.exists(source.get("build_log", "")):  # its image's Dockerfile builds first
        from corral.supervisor.tail import tail as tail_build

        tail_build(source["build_log"], lines, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    if "container" in source:
        import asyncio

        from corral.engine.endpoint import endpoint_for
        from corral.engine.enginelog import show_engine_log
        from corral.paths import state_dir

        config = options.loaded().config
        endpoint = endpoint_for(config, source["runtime"], state_dir(config.state_dir))
        out = sys.stdout.buffer

        def write(data: bytes) -> None:
            out.write(data)
            out.flush()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(show_engine_log(endpoint, source["container"], lines, follow, write))
        return
    from corral.supervisor.tail import follow_file, tail

    out = sys.stdout.buffer
    position = tail(source["path"], lines, out)
    if follow:
        follow_file(source["path"], position, out)


@command("graph")
@click.option("--dot", is_flag=True, help="Graphviz dot.")
@pass_options
def graph(options: Options, dot: bool) -> None:
    """The dependency graph."""
    from corral.config import declared_services
    from corral.supervisor.graph import as_dot, as_text

    services = declared_services(options.loaded().config)
    click.echo(as_dot(services) if dot else as_text(services))


@command("plan")
@timeout_option("plan")
@pass_options
def plan(options: Options, timeout: float) -> None:
    """What `reload` would start, stop and restart, and why."""
    path = _config_path(options, validate=False)
    changes = _call(options, "plan", timeout, config=path)["changes"]
    from corral.config.lockfile import lock_path

    if os.path.exists(lock_path(path)):  # with a lock, where the registries' tags moved
        from corral.cli.lock_commands import current_drift

        _, lines, problems = current_drift(path)
        changes = [*changes, *lines, *(f"drift: cannot check: {p}" for p in problems)]
    click.echo("\n".join(changes) if changes else "nothing to do")


@command("reload")
@timeout_option("reload")
@pass_options
def reload(options: Options, timeout: float) -> None:
    """Apply the configuration file to the running daemon."""
    path = _config_path(options, validate=False)
    changes = _call(options, "reload", timeout, config=path)["changes"]
    click.echo("\n".join(changes) if changes else "nothing to do")
