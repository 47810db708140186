"""``corral status --watch``: the status table, redrawn on each change.

The daemon pushes a status line on each change (``control.watch``); this
redraws rich's live table with it (``--json``: prints each as one JSON line,
for scripts). Ctrl-C ends it.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

import click

from corral.errors import CorralError


def _table(services: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    from corral.cli.service_commands import COLUMNS, _cells

    table = Table(*COLUMNS, caption=f"updated {time.strftime('%H:%M:%S')} · Ctrl-C to stop")
    for service in services:
        table.add_row(*_cells(service))
    return table


def watch_status(socket_path: str, name: str | None, as_json: bool) -> None:
    from corral.control.client import NoDaemon, RequestFailed
    from corral.control.stream import watch

    try:
        with contextlib.suppress(KeyboardInterrupt):
            if as_json:
                for services in watch(socket_path, name):
                    click.echo(json.dumps(services))
                    sys.stdout.flush()
                return
            from rich.live import Live

            with Live(auto_refresh=False) as live:
                for services in watch(socket_path, name):
                    live.update(_table(services), refresh=True)
    except (NoDaemon, RequestFailed) as error:
        raise CorralError(str(error)) from None
    except OSError as error:
        raise CorralError(f"talking to the daemon on {socket_path}: {error}") from None
