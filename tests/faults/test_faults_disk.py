"""A full disk under the logs: writers drop and count, say so once, and resume
with a line saying what was dropped; the daemon's own log full never stops it."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import engines
import pytest
from _relb import (
    Corral,
    alive,
    corral,
    engine_corral,
    fill,
    runtime,
    status_json,
    tmpfs,
    top_up,
    unique,
    wait_for,
    wait_gone,
)

__all__ = ["corral", "engine_corral", "runtime"]

CHATTY = 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.02; done'
DROPPED = re.compile(
    rb"corral: ([0-9.]+ k?M?B) dropped since [0-9-]+ [0-9:]+ \(No space left on device\)\n"
)


def _drop_episode(corral: Corral, name: str, log: Path, full: Path) -> None:
    """Fill the log's file system, see the drop said (status, table, daemon log),
    free it, see the log resume with the line saying what was dropped."""
    wait_for(lambda: log.exists() and b"line 3" in log.read_bytes(), 60)
    filler = fill(full)
    drop = wait_for(lambda: status_json(corral)[name]["log"], 30)
    assert drop["error"] == "No space left on device" and drop["dropped_bytes"] > 0
    # dropped bytes keep being counted while the disk is full
    wait_for(lambda: status_json(corral)[name]["log"]["dropped_bytes"] > drop["dropped_bytes"])
    table = corral.run("status").stdout
    assert re.search(rf"{name} .*log: [0-9.]+ k?B dropped since [0-9:]+ \(No space", table), table
    assert corral.answers()
    size_when_full = log.stat().st_size
    filler.unlink()
    wait_for(lambda: DROPPED.search(log.read_bytes()), 30)
    data = log.read_bytes()
    marker = DROPPED.search(data)
    assert marker is not None and marker.start() >= size_when_full - 4096
    assert b"line" in data[marker.end() :] or wait_for(lambda: len(log.read_bytes()) > len(data))
    wait_for(lambda: status_json(corral)[name]["log"] is None)
    # the output goes on after the marker, line after line
    wait_for(lambda: log.read_bytes()[marker.end() :].count(b"line") >= 3)


def test_a_process_log_on_a_full_disk(corral: Corral, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full") as full:
        log = full / "chatty.log"
        corral.write(
            f'[[process]]\nname = "chatty"\ncommand = ["sh", "-c", {json.dumps(CHATTY)}]\n'
            f'log_file = "{log}"\n'
        )
        corral.start_daemon()
        corral.run("start", "chatty")
        _drop_episode(corral, "chatty", log, full)
        daemon_log = (tmp_path / "daemon.out").read_text()
        assert daemon_log.count(f"log {log}: cannot write (No space left on device)") == 1
        assert f"log {log}: writing again; " in daemon_log
        assert corral.status()["chatty"]["state"] == "running"
        corral.run("stop", "chatty")
        corral.daemon.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert corral.daemon.wait(30) == 0  # type: ignore[union-attr]


@pytest.mark.engine
def test_a_container_log_on_a_full_disk(
    engine_corral: Corral, runtime: str, tmp_path: Path
) -> None:
    corral = engine_corral
    with tmpfs(tmp_path / "full") as full:
        log = full / "chatty.log"
        name = unique("chatty")
        corral.write(
            f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
            f'image = "{engines.busybox_image(runtime)}"\n'
            f"command = {json.dumps(['sh', '-c', CHATTY])}\n"
            f'log_file = "{log}"\nstop_timeout = 1\n'
        )
        corral.start_daemon()
        corral.run("start", name, timeout=120)
        _drop_episode(corral, name, log, full)
        assert corral.status()[name]["state"] == "running"
        corral.run("down", timeout=120)
        wait_for(lambda: not corral.answers(), 30)


def test_the_daemons_own_log_full_never_stops_it(corral: Corral, tmp_path: Path) -> None:
    """The daemon's log and a service's log on one full tmpfs: the daemon keeps
    serving, says what its log dropped once it can, and SIGTERM still stops the
    service before it exits."""
    with tmpfs(tmp_path / "state", size="1m") as state:
        pid = None
        try:
            pid = _own_log_full(corral, state)
        finally:
            if pid is not None and alive(pid):  # before its log goes with the tmpfs
                os.kill(pid, signal.SIGKILL)
            (state / "filler").unlink(missing_ok=True)


def _own_log_full(corral: Corral, state: Path) -> int:
    log = state / "logs" / "chatty.log"
    corral.write(f'[[process]]\nname = "chatty"\ncommand = ["sh", "-c", {json.dumps(CHATTY)}]\n')
    corral.run("up")  # forked: the daemon logs to <state>/daemon.log
    daemon_log = state / "daemon.log"
    pid = corral.daemon_pid()
    wait_for(lambda: log.exists() and log.stat().st_size > 0, 30)
    filler = fill(state)
    top_up(daemon_log)
    before = daemon_log.read_bytes()
    wait_for(lambda: corral.status()["chatty"]["log"], 30)  # the notice went nowhere
    for _ in range(5):
        corral.run("restart", "chatty")  # more to say, nowhere to say it
    assert corral.answers()
    filler.unlink()
    # the next line it can write is preceded by what it dropped
    wait_for(lambda: b"its log: " in daemon_log.read_bytes(), 30)
    resumed = daemon_log.read_bytes()[len(before) :]
    assert re.search(rb"corral daemon: its log: \d+ B dropped since .* \(No space", resumed)
    service = int(corral.status()["chatty"]["pid"])
    fill(state)
    top_up(daemon_log)
    os.kill(pid, signal.SIGTERM)
    wait_gone(pid, 30)
    wait_gone(service, 5)
    assert not corral.socket.exists()
    return pid
