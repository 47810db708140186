"""The daemon's pulls shown by the command that asked, on docker and Podman,
against the real registry: one line per pulled image when the output is no
terminal (CI logs), a bar per layer on one (a pseudo-terminal here), and no
credential in either."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

import pytest
from registry_server import PASSWORD, RegistryServer
from test_registry_e2e import LOOP, RegCorral, container, header, login, push_version, unique

pytestmark = pytest.mark.engine

#: What rich's bar is drawn with.
BAR = "━"
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def forget(runtime: str, repository: str) -> None:
    """Every local name of ``repository``'s images (the pushed tag, the build, and
    digests), so that the next start pulls it layer by layer."""
    listed = subprocess.run(
        [runtime, "images", "--digests", "--format", "{{.Repository}} {{.ID}}"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    for line in listed.stdout.splitlines():
        name, _, image_id = line.partition(" ")
        if name.endswith(repository) or name.endswith(f"reg-build-{repository}"):
            subprocess.run([runtime, "rmi", "-f", image_id], capture_output=True, timeout=60)


def on_a_terminal(corral: RegCorral, *args: str, timeout: float = 120) -> tuple[int, str]:
    """``corral ARGS`` with its stdout and stderr on a pseudo-terminal: its exit
    status and what the terminal showed (escapes removed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        corral.argv(*args), env={**corral.env, "COLUMNS": "120"},
        stdin=follower, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return code, _ESCAPES.sub("", shown.decode(errors="replace").replace("\r", "\n"))


def test_pulls_one_line_per_image_off_a_terminal_and_layer_bars_on_one(
    corral: RegCorral, runtime: str, registry: RegistryServer
) -> None:
    repositories = [unique("progress"), unique("progress")]
    for i, repository in enumerate(repositories):  # two images (their labels differ)
        push_version(corral, registry, repository, "1", f"p{i}")
        forget(runtime, repository)
    references = [f"{registry.host}/{r}:1" for r in repositories]
    corral.write(
        header(runtime) + login(registry)
        + "".join(container(f"reg-prog{i}", ref, command=LOOP)
                  for i, ref in enumerate(references))
    )  # fmt: skip
    # off a terminal (captured): one line per image the start pulled, as each ends
    up = corral.run("up", timeout=180)
    pulled = [line for line in up.stdout.splitlines() if line.startswith("pulled ")]
    assert len(pulled) == 2, up.stdout
    for reference in references:
        (line,) = [p for p in pulled if p.startswith(f"pulled {reference}: ")]
        assert re.fullmatch(rf"pulled {re.escape(reference)}: [1-9][0-9]* layers(, sha256:.*)?",
                            line), line  # fmt: skip
    assert up.stdout.rstrip().endswith("all services up")
    # the `pull` action: its line too, then the action's own answer
    action = corral.run("action", "reg-prog0", "pull", timeout=120)
    assert action.stdout.startswith(f"pulled {references[0]}: "), action.stdout
    assert action.stdout.count("pulled ") == 2  # the progress line and the action's answer
    # on a terminal: a bar per layer while it pulls, then the image's line
    corral.run("stop", "reg-prog1", timeout=60)
    forget(runtime, repositories[1])
    code, shown = on_a_terminal(corral, "start", "reg-prog1")
    assert code == 0, shown
    basename = references[1].rsplit("/", 1)[-1]
    bars = [line for line in shown.splitlines() if line.startswith(f"{basename} ") and BAR in line]
    assert bars, shown
    layer = bars[0].split()[1]
    assert re.fullmatch(r"[0-9a-f]{12}", layer), bars[0]
    assert f"pulled {references[1]}: " in shown
    assert corral.status()["reg-prog1"]["state"] == "running"
    for said in (up.stdout, up.stderr, action.stdout, action.stderr, shown):
        assert PASSWORD not in said
