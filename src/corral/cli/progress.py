"""Progress of a pull or push at the terminal: a bar per layer (rich) on a
terminal, one line per image otherwise (CI logs). rich is imported only when a
terminal shows the bars."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

import click


class TransferProgress:
    """Receives the engine's progress events (``engine.pull.OnProgress``) for one
    image; ``with`` it around the transfer."""

    def __init__(self, verb: str, reference: str, *, terminal: bool | None = None) -> None:
        self.verb = verb
        self.reference = reference
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.layers: set[str] = set()
        self._bars: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> TransferProgress:
        if self.terminal:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self._bars = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self._bars.start()
        return self

    def __call__(self, event: dict[str, Any]) -> None:
        layer = event.get("id")
        if not isinstance(layer, str) or not layer or " " in layer or ":" in layer:
            return
        self.layers.add(layer)
        if self._bars is None:
            return
        detail = event.get("progressDetail") or {}
        status = str(event.get("status") or "")
        task = self._tasks.get(layer)
        if task is None:
            task = self._bars.add_task(f"{layer} {status}", total=None)
            self._tasks[layer] = task
        total, current = detail.get("total"), detail.get("current")
        self._bars.update(
            task, description=f"{layer} {status}",
            total=total if isinstance(total, int) and total > 0 else None,
            completed=current if isinstance(current, int) else None,
        )  # fmt: skip

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bars is not None:
            self._bars.stop()

    def summary(self, digest: str | None) -> None:
        """The one line an image gets, on a terminal or not."""
        said = f"{self.verb} {self.reference}: {len(self.layers)} layers"
        click.echo(said + (f", {digest}" if digest else ""))
