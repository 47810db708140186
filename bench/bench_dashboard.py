"""The status page with 200 services, and what it costs when it is off, in one run.

Three daemons run side by side, each with the same 200 services (195
``sleep`` processes in a requirement tree, 5 busybox containers on the host
dockerd), from clean copies of the committed code (``git archive``,
bytecode compiled, as an installed corral runs):

* ``main``: the lead's branch (``--main``, default /work/main), the baseline;
* ``off``:  this branch, without ``[http]``;
* ``on``:   this branch, with ``[http]`` on 127.0.0.1 (a port of 23000-23999).

Measured:

1. the page's first load (``/`` + ``page.js`` + ``page.css``) over HTTP:
   time and bytes, and in headless Chromium: navigation start → load event.
   Targets: < 300 ms, < 500 kB.
2. a container's exit reaching the open page: ``docker kill`` (time taken
   before the CLI runs) → the row leaves ``running`` in Chromium (the
   browser's ``Date.now()`` in a MutationObserver), 20 kills over the 5
   containers, each respawned before the next. Target: p95 < 1 s.
3. the daemons' RSS (VmRSS) once every service runs and the page was loaded
   (and its event stream is open). Target: on − off ≤ 15 MB.
4. ``corral status`` latency, rounds interleaved over the three daemons,
   median: the CLI end to end (an interpreter start, ~0.2 s, dominates it and
   its noise), and the daemon's part alone (one ``status`` request on the
   socket, 25× the rounds). Target: off / main ≤ 1.02×.

    python bench/bench_dashboard.py [--rounds 30] [--kills 20] [--main /work/main]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "web"))

from engines import busybox_image, ensure_dockerd  # noqa: E402
from webhelp import chromium, free_port  # noqa: E402

PROCESSES = 195
CONTAINERS = 5
PREFIX = "web-bench-"


def sh(*argv: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, **kwargs)


def copy_tree(checkout: Path, into: Path) -> Path:
    """The committed ``src`` of ``checkout``, compiled, under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(checkout), "archive", "HEAD", "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    compileall.compile_dir(str(into / "src"), quiet=1)
    return into / "src"


def config_text(kind: str, image: str, port: int | None) -> str:
    lines = []
    if port is not None:
        lines += ["[http]", f'listen = "127.0.0.1:{port}"', ""]
    for i in range(PROCESSES):
        lines += ["[[process]]", f'name = "p{i:03d}"', 'command = ["/bin/sleep", "100000"]']
        if i >= 5:  # a tree: each process requires one of an earlier layer
            lines.append(f'requirement = ["p{(i - 5) // 5:03d}"]')
        lines.append("")
    for j in range(CONTAINERS):
        lines += [
            "[[container]]",
            f'provision = "{PREFIX}{kind}-c{j}"',
            f'image = "{image}"',
            'command = ["sleep", "100000"]',
            "respawn = true",
            "respawn_delay = 0.1",
            "stop_timeout = 1",
            f'requirement = ["p{j:03d}"]',
            "",
        ]
    return "\n".join(lines)


class Daemon:
    def __init__(self, kind: str, src: Path, base: Path, image: str, port: int | None) -> None:
        self.kind = kind
        self.src = src
        self.dir = base / kind
        self.dir.mkdir()
        self.port = port
        (self.dir / "corral.toml").write_text(config_text(kind, image, port))
        self.env = {
            **os.environ,
            "PYTHONPATH": str(src),
            "CORRAL_STATE_DIR": str(self.dir / "state"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable, "-m", "corral", "-c", str(self.dir / "corral.toml"),
            "--socket", str(self.dir / "run" / "corral.sock"), *args,
        ]  # fmt: skip

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh(*self.argv(*args), check=check, env=self.env, timeout=300)

    def pid(self) -> int:
        for line in reversed((self.dir / "state" / "daemon.log").read_text().splitlines()):
            if "serving" in line and " pid " in line:
                return int(line.split(" pid ", 1)[1].split()[0])
        raise RuntimeError(f"{self.kind}: no daemon pid")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def token(self) -> str:
        return (self.dir / "state" / "web-token").read_text().strip()

    def status_seconds(self) -> float:
        began = time.perf_counter()
        self.run("status")
        return time.perf_counter() - began

    def request_seconds(self) -> float:
        """One ``status`` request on the socket (the daemon's part of the latency)."""
        began = time.perf_counter()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(str(self.dir / "run" / "corral.sock"))
            connection.sendall(b'{"v": 1, "op": "status"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
        assert json.loads(data)["ok"]
        return time.perf_counter() - began

    def down(self) -> None:
        with contextlib.suppress(Exception):
            self.run("down", check=False)


def fetch(url: str, token: str) -> tuple[float, int]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    began = time.perf_counter()
    with opener.open(
        urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}), timeout=30
    ) as answer:
        size = len(answer.read())
    return time.perf_counter() - began, size


def first_load(daemon: Daemon) -> dict[str, float]:
    base = f"http://127.0.0.1:{daemon.port}"
    times, sizes = [], 0
    for i in range(10):
        total, size = 0.0, 0
        for path in ("/", "/page.js", "/page.css"):
            seconds, got = fetch(base + path, daemon.token())
            total, size = total + seconds, size + got
        times.append(total)
        sizes = size if i == 0 else sizes
    return {"http_first_ms": times[0] * 1000, "http_median_ms": statistics.median(times) * 1000,
            "bytes": float(sizes)}  # fmt: skip


def browser_part(daemon: Daemon, kills: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{daemon.port}"
    out: dict[str, Any] = {}
    with chromium() as driver:
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(30)
        # a browser already running, as a person's is: its renderer for the
        # page's origin is started by the health probe (no token, no page)
        driver.get(f"{base}/healthz")
        loads = []
        for _ in range(5):
            driver.get(f"{base}/?token={daemon.token()}")
            loads.append(
                driver.execute_script(
                    "const n = performance.getEntriesByType('navigation')[0];"
                    "return [n.loadEventEnd - n.startTime, n.transferSize];"
                )
            )
        out["browser_first_ms"] = loads[0][0]
        out["browser_median_ms"] = statistics.median(x[0] for x in loads)
        driver.execute_script(
            "window.__left = {};"
            "new MutationObserver(() => {"
            "  for (const r of document.querySelectorAll('#services tr[data-state]')) {"
            "    if (r.dataset.state !== 'running' && !(r.id in window.__left))"
            "      window.__left[r.id] = Date.now();"
            "  }"
            "}).observe(document.getElementById('services'), {childList: true, subtree: true});"
        )
        latencies = []
        for k in range(kills):
            name = f"{PREFIX}{daemon.kind}-c{k % CONTAINERS}"
            row = f"row-{name}"
            driver.execute_script("delete window.__left[arguments[0]]", row)
            began = time.time()
            sh("docker", "kill", name, timeout=30)
            deadline = time.monotonic() + 10
            seen = None
            while seen is None and time.monotonic() < deadline:
                seen = driver.execute_script("return window.__left[arguments[0]]", row)
                time.sleep(0.01)
            latencies.append((seen / 1000 - began) if seen is not None else float("inf"))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # respawned before the next kill
                state = driver.execute_script(
                    "const r = document.getElementById(arguments[0]); return r && r.dataset.state",
                    row,
                )
                if state == "running":
                    break
                time.sleep(0.02)
        latencies.sort()
        out["exit_p50_ms"] = latencies[len(latencies) // 2] * 1000
        out["exit_p95_ms"] = latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000
        out["exit_max_ms"] = latencies[-1] * 1000
        # RSS with the page open in a browser (its event stream connected)
        out["rss_on_mb"] = daemon.rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--main", default="/work/main", help="the baseline's checkout")
    args = parser.parse_args()
    ensure_dockerd()
    image = busybox_image("docker")
    base = Path(tempfile.mkdtemp(prefix="web-bench-"))
    daemons: list[Daemon] = []
    figures: dict[str, Any] = {}
    try:
        main_src = copy_tree(Path(args.main), base / "main-src")
        this_src = copy_tree(ROOT, base / "this-src")
        port = free_port()
        daemons = [
            Daemon("main", main_src, base, image, None),
            Daemon("off", this_src, base, image, None),
            Daemon("on", this_src, base, image, port),
        ]
        for daemon in daemons:
            began = time.perf_counter()
            daemon.run("up")
            figures[f"up_{daemon.kind}_s"] = time.perf_counter() - began
        on = next(d for d in daemons if d.kind == "on")
        figures.update(first_load(on))
        figures.update(browser_part(on, args.kills))
        for daemon in daemons:
            if daemon.kind != "on":
                figures[f"rss_{daemon.kind}_mb"] = daemon.rss_mb()
        samples: dict[str, list[float]] = {d.kind: [] for d in daemons}
        for daemon in daemons:
            daemon.status_seconds()  # warm the page cache
        for r in range(args.rounds):
            order = daemons if r % 2 == 0 else list(reversed(daemons))
            for daemon in order:
                samples[daemon.kind].append(daemon.status_seconds())
        for kind, values in samples.items():
            figures[f"status_{kind}_ms"] = statistics.median(values) * 1000
        requests: dict[str, list[float]] = {d.kind: [] for d in daemons}
        for r in range(args.rounds * 25):
            order = daemons if r % 2 == 0 else list(reversed(daemons))
            for daemon in order:
                requests[daemon.kind].append(daemon.request_seconds())
        for kind, values in requests.items():
            figures[f"request_{kind}_ms"] = statistics.median(values) * 1000
    finally:
        for daemon in daemons:
            daemon.down()
        leftovers = sh("docker", "ps", "-aq", "--filter", f"name={PREFIX}", check=False)
        if leftovers.stdout.split():
            sh("docker", "rm", "-f", *leftovers.stdout.split(), check=False)
        shutil.rmtree(base, ignore_errors=True)
        report(figures)


def report(f: dict[str, Any]) -> None:
    def show(key: str, unit: str = "") -> str:
        return f"{f[key]:.1f}{unit}" if key in f else "not measured"

    print(f"services per daemon: {PROCESSES} processes + {CONTAINERS} containers (docker)")
    for kind in ("main", "off", "on"):
        print(f"corral up ({kind}): {show(f'up_{kind}_s', ' s')}")
    print("1. first load (/ + page.js + page.css)")
    print(f"   HTTP: first {show('http_first_ms', ' ms')}, median {show('http_median_ms', ' ms')}, "
          f"{f.get('bytes', 0) / 1000:.1f} kB   targets < 300 ms, < 500 kB")  # fmt: skip
    print(f"   Chromium navigation → load: first {show('browser_first_ms', ' ms')}, "
          f"median {show('browser_median_ms', ' ms')}")  # fmt: skip
    print(f"2. container exit → open page: p50 {show('exit_p50_ms', ' ms')}, "
          f"p95 {show('exit_p95_ms', ' ms')}, max {show('exit_max_ms', ' ms')}"
          "   target p95 < 1000 ms")  # fmt: skip
    print(f"3. RSS: main {show('rss_main_mb', ' MB')}, off {show('rss_off_mb', ' MB')}, "
          f"on {show('rss_on_mb', ' MB')}")  # fmt: skip
    if "rss_on_mb" in f and "rss_off_mb" in f:
        print(f"   on − off: {f['rss_on_mb'] - f['rss_off_mb']:.1f} MB   target ≤ 15 MB")
    print(f"4. corral status median: main {show('status_main_ms', ' ms')}, "
          f"off {show('status_off_ms', ' ms')}, on {show('status_on_ms', ' ms')}")  # fmt: skip
    if "status_off_ms" in f and "status_main_ms" in f:
        print(f"   off / main: {f['status_off_ms'] / f['status_main_ms']:.3f}×   target ≤ 1.02×")
        print(f"   on / main:  {f['status_on_ms'] / f['status_main_ms']:.3f}×")
    print(f"   the daemon's part (one status request on the socket, median): "
          f"main {show('request_main_ms', ' ms')}, off {show('request_off_ms', ' ms')}, "
          f"on {show('request_on_ms', ' ms')}")  # fmt: skip
    if "request_off_ms" in f and "request_main_ms" in f:
        print(f"   off / main: {f['request_off_ms'] / f['request_main_ms']:.3f}×   target ≤ 1.02×")
        print(f"   on / main:  {f['request_on_ms'] / f['request_main_ms']:.3f}×")
        print(f"   off / on (the same status code: this run's noise): "
              f"{f['request_off_ms'] / f['request_on_ms']:.3f}×")  # fmt: skip
    print(json.dumps({k: round(v, 3) for k, v in f.items()}))


if __name__ == "__main__":
    main()
