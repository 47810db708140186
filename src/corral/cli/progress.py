"""Progress of a pull or push at the terminal: a bar per layer (rich) on a
terminal, one line per image otherwise (CI logs). rich is imported only when a
terminal shows the bars.

``TransferProgress`` follows a transfer this process makes (``image push``);
``DaemonTransfers`` those the daemon makes for a request (``up``, ``update``,
``start``, ``action NAME pull``), from the messages of
``corral.control.transfers``."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

import click

#: Layer states that end a layer's bar (Podman 4.3 says no byte counts at all).
LAYER_DONE = ("Download complete", "Pull complete", "Already exists", "Pushed",
              "Layer already exists", "Mounted from")  # fmt: skip


def bars() -> Any:
    """A started rich ``Progress`` on stderr, for layer bars (and a command's own)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
    from rich.text import Text

    class Size(ProgressColumn):
        """``1.2/3.0 MB`` where the engine said the bytes, else nothing."""

        def render(self, task: Any) -> Text:
            return Text(str(task.fields.get("size", "")), style="progress.download")

    shown = Progress(
        TextColumn("{task.description}"), BarColumn(), Size(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    shown.start()
    return shown


def summary_line(verb: str, reference: str, layers: int, digest: str | None) -> str:
    """The one line an image gets (``pulled REF: 3 layers, sha256:…``)."""
    return f"{verb} {reference}: {layers} layers" + (f", {digest}" if digest else "")


def _show_layer(shown: Any, task: Any, label: str, status: str, current: Any, total: Any) -> None:
    size = ""
    if isinstance(total, int) and total > 0:
        done = current if isinstance(current, int) else 0
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
    elif any(status.startswith(s) for s in LAYER_DONE):
        total = current = 1  # ended, with no byte counts said (Podman's)
    shown.update(
        task, description=f"{label} {status}", size=size,
        total=total if isinstance(total, int) and total > 0 else None,
        completed=current if isinstance(current, int) else None,
    )  # fmt: skip


class DaemonTransfers:
    """The daemon's transfer messages on this terminal: layer bars in ``shown`` (a
    rich ``Progress`` from ``bars``, shared with the command's own) on a terminal,
    else one line per image as each ends. Called from the request's thread."""

    def __init__(self, shown: Any | None) -> None:
        self.shown = shown
        self._tasks: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, message: dict[str, Any]) -> None:
        verb, image = str(message.get("verb")), str(message.get("image"))
        tasks = self._tasks.setdefault((verb, image), {})
        if message.get("done"):
            if self.shown is not None:
                for task in tasks.values():
                    self.shown.remove_task(task)
            del self._tasks[(verb, image)]
            error = message.get("error")
            if error:
                line = str(error)
            else:
                past = {"pull": "pulled", "push": "pushed"}.get(verb, verb)
                layers = int(message.get("layers") or 0)
                line = summary_line(past, image, layers, message.get("digest"))
            if self.shown is not None:
                self.shown.console.print(line, markup=False, highlight=False)
            else:
                click.echo(line)
            return
        if self.shown is None:
            return
        layer, status = str(message.get("layer")), str(message.get("status") or "")
        label = f"{image.rsplit('/', 1)[-1]} {layer}"
        task = tasks.get(layer)
        if task is None:
            task = tasks[layer] = self.shown.add_task(f"{label} {status}", total=None)
        _show_layer(self.shown, task, label, status, message.get("current"), message.get("total"))


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
            self._bars = bars()
        return self

    def __call__(self, event: dict[str, Any]) -> None:
        from corral.engine.transfers import layer_of

        layer = layer_of(event)
        if layer is None:
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
        _show_layer(self._bars, task, layer, status, detail.get("current"), detail.get("total"))

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
        click.echo(summary_line(self.verb, self.reference, len(self.layers), digest))
