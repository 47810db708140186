"""Pure logic of the transfer progress: what an engine's line is about, how a
burst of lines is coalesced, and the one line per image off a terminal. (The
real thing, daemon to terminal on both engines: tests/registry/test_registry_progress.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from corral.cli.progress import DaemonTransfers
from corral.control.transfers import _coalesced, wants_progress
from corral.engine.transfers import Transfer, Transfers, layer_of


def test_layer_of_names_layers_only() -> None:
    assert layer_of({"status": "Downloading", "id": "3007b1ebe850"}) == "3007b1ebe850"
    assert layer_of({"status": "Pulling from reg-web", "id": "1"}) is None
    assert layer_of({"status": "Digest: sha256:ab"}) is None
    assert layer_of({"status": "The push refers to repository [h/r]", "id": "x"}) is None
    assert layer_of({"status": "x", "id": "127.0.0.1:5000/a"}) is None


def test_a_burst_keeps_each_layers_last_line_and_every_end() -> None:
    lines = [
        {"verb": "pull", "image": "a", "layer": "l1", "status": "Downloading", "current": 1},
        {"verb": "pull", "image": "a", "layer": "l2", "status": "Waiting"},
        {"verb": "pull", "image": "a", "layer": "l1", "status": "Downloading", "current": 2},
        {"verb": "pull", "image": "a", "done": True, "layers": 2},
    ]
    assert _coalesced(lines) == lines[1:]


def test_wants_progress_reads_the_flag_only() -> None:
    assert wants_progress(b'{"v":1,"op":"up","progress":true}\n')
    assert not wants_progress(b'{"v":1,"op":"up","progress":false}\n')
    assert not wants_progress(b'{"v":1,"op":"up"}\n')
    assert not wants_progress(b'{"progress": not json\n')


def test_a_transfer_publishes_its_layers_then_its_end() -> None:
    async def run() -> list[dict[str, Any]]:
        feed = Transfers()
        with feed.subscribe() as subscriber:
            transfer = Transfer(feed, "pull", "h/r:1")
            transfer.event({"status": "Pulling from r", "id": "1"})
            transfer.event({"status": "Downloading", "id": "aa", "progressDetail":
                            {"current": 5, "total": 10}})  # fmt: skip
            transfer.event({"status": "Digest: sha256:beef"})
            transfer.end()
            return [subscriber.queue.get_nowait() for _ in range(subscriber.queue.qsize())]

    said = asyncio.run(run())
    assert said == [
        {"image": "h/r:1", "verb": "pull", "layer": "aa", "status": "Downloading",
         "current": 5, "total": 10},
        {"image": "h/r:1", "verb": "pull", "done": True, "layers": 1, "digest": "sha256:beef",
         "error": None},
    ]  # fmt: skip


def test_off_a_terminal_one_line_per_image(capsys: pytest.CaptureFixture[str]) -> None:
    shown = DaemonTransfers(None)
    for layer in ("aa", "bb"):
        shown({"verb": "pull", "image": "h/r:1", "layer": layer, "status": "Downloading"})
    shown({"verb": "pull", "image": "h/r:1", "done": True, "layers": 2, "digest": "sha256:be"})
    shown({"verb": "pull", "image": "h/s:1", "done": True, "layers": 0,
           "error": "pull h/s:1: the registry refused the login (401)"})  # fmt: skip
    assert capsys.readouterr().out.splitlines() == [
        "pulled h/r:1: 2 layers, sha256:be",
        "pull h/s:1: the registry refused the login (401)",
    ]
