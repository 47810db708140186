"""`corral status --watch`: the table again on each change, pushed by the daemon
(no change, no line), over the control socket's streaming request."""

from __future__ import annotations

import json
import select
import signal
import subprocess
from pathlib import Path

from sv_helpers import Corral

CONFIG = """
[[process]]
name = "web-w-a"
command = ["/bin/sh", "-c", "exec sleep 1000"]

[[process]]
name = "web-w-b"
command = ["/bin/sh", "-c", "exec sleep 1000"]
"""


def _line(proc: subprocess.Popen[bytes], timeout: float) -> list[dict[str, object]] | None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    line = proc.stdout.readline()
    return json.loads(line) if line else None


def test_watch_pushes_the_status_on_each_change_only(tmp_path: Path) -> None:
    corral = Corral(tmp_path, tmp_path / "corral.toml", tmp_path / "run" / "c.sock", tmp_path / "s")
    corral.write(CONFIG)
    watcher = None
    try:
        corral.run("up", timeout=60)
        watcher = subprocess.Popen(
            corral.argv("status", "--watch", "--json"), env=corral.env, stdout=subprocess.PIPE
        )
        first = _line(watcher, 10)
        assert first is not None
        assert {s["name"]: s["state"] for s in first} == {
            "web-w-a": "running",
            "web-w-b": "running",
        }
        assert _line(watcher, 1.5) is None  # nothing changed: nothing sent (no polling)
        old = {s["name"]: s["pid"] for s in first}
        corral.run("restart", "web-w-a")
        seen = []
        while (line := _line(watcher, 5)) is not None:
            states = {s["name"]: s for s in line}
            seen.append(states["web-w-a"]["state"])
            if (
                states["web-w-a"]["state"] == "running"
                and states["web-w-a"]["pid"] != old["web-w-a"]
            ):
                break
        assert seen and seen[-1] == "running", seen
        assert states["web-w-b"]["pid"] == old["web-w-b"]
        one = subprocess.run(
            corral.argv("status", "--watch", "--json", "nobody"), env=corral.env,
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert one.returncode == 1 and "no service named 'nobody'" in one.stderr
    finally:
        if watcher is not None:
            watcher.send_signal(signal.SIGINT)
            watcher.wait(10)
        if corral.answers():
            corral.run("down", check=False)
        corral.teardown()
