"""Recovery after dockerd restarts: corral's respawn containers against
dockerd's own ``--restart always``, measured in one run.

On an isolated dockerd of the bench's own (``tests/engines.IsolatedDockerd``:
own data root, socket, bridge; the host's dockerd is never touched), N
containers each serve HTTP (busybox httpd on 127.0.0.1):

* corral: N ``respawn = true`` containers under a corral daemon pointed at
  that dockerd (``DOCKER_HOST``);
* baseline: the same N started by ``docker run -d --restart always`` (and the
  same stop timeout), which dockerd brings back itself.

Each round restarts dockerd (SIGTERM, wait for it to exit, start it again)
and times until all N answer HTTP again, from the new start (and from the
SIGTERM). Then it counts duplicates: running containers beyond one per
service (target 0). Target: corral ≤ 1.2× the baseline (medians).

    python bench/bench_recovery.py [-n 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import BUSYBOX_REF, IsolatedDockerd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from installed import compile_corral, corral_argv

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/"]
#: TCP ports (this bench's range): corral's from CORRAL_PORT, the baseline's from BASE_PORT.
CORRAL_PORT, BASE_PORT = 21500, 21600
BRIDGE, SUBNET = "rela-br-b", "10.210.2"
STOP_TIMEOUT = 1
SERVE_TIMEOUT = 120.0
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def serving(port: int) -> bool:
    try:
        with _opener.open(f"http://127.0.0.1:{port}/etc/passwd", timeout=0.5) as answer:
            return b"root:x:0:0" in answer.read()
    except OSError:
        return False


def until_all_serve(ports: list[int], timeout: float = SERVE_TIMEOUT) -> float:
    """Block until every port serves; the perf_counter time the last one did."""
    done: dict[int, float] = {}

    def poll(port: int) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if serving(port):
                done[port] = time.perf_counter()
                return
            time.sleep(0.02)

    threads = [threading.Thread(target=poll, args=(p,)) for p in ports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = sorted(set(ports) - set(done))
    if missing:
        raise RuntimeError(f"ports {missing} did not serve within {timeout:g}s")
    return max(done.values())


def duplicates(dockerd: IsolatedDockerd, label: str) -> tuple[int, int]:
    """(running containers beyond one per ``label`` value, containers not running)."""
    out = dockerd.docker("ps", "-a", "--filter", f"label={label}",
                         "--format", "{{json .}}").stdout  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    running = Counter(
        next((kv.split("=", 1)[1] for kv in r["Labels"].split(",") if kv.startswith(label + "=")),
             r["Names"])
        for r in rows if r["State"] == "running"
    )  # fmt: skip
    return sum(c - 1 for c in running.values()), sum(r["State"] != "running" for r in rows)


def restart_and_time(dockerd: IsolatedDockerd, ports: list[int]) -> tuple[float, float]:
    """(seconds from dockerd's new start, and from its SIGTERM, until all serve)."""
    began = time.perf_counter()
    dockerd.stop()
    started = time.perf_counter()
    dockerd.start()
    last = until_all_serve(ports)
    return last - started, last - began


class CorralDaemon:
    def __init__(self, directory: Path, dockerd: IsolatedDockerd, n: int) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "corral.toml"
        self.socket = directory / "corral.sock"
        self.env = {**os.environ, "CORRAL_STATE_DIR": str(directory / "state"),
                    "DOCKER_HOST": dockerd.host}  # fmt: skip
        self.ports = [CORRAL_PORT + i for i in range(n)]
        self.config.write_text('runtime = "docker"\n' + "".join(
            f'[[container]]\nprovision = "relabench{i}"\nimage = "{BUSYBOX_REF}"\n'
            f"command = {json.dumps(HTTPD)}\nrespawn = true\nstop_timeout = {STOP_TIMEOUT}\n"
            f'ports = ["127.0.0.1:{port}:80"]\n'
            for i, port in enumerate(self.ports)
        ))  # fmt: skip

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*corral_argv(), "-c", str(self.config), "--socket", str(self.socket), *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def up(self) -> None:
        done = self.run("up")
        if done.returncode != 0:
            raise RuntimeError(f"corral up: {done.stderr.strip()}")

    def down(self) -> None:
        self.run("down")


Measured = tuple[float, float, int, int]


def bench_corral(dockerd: IsolatedDockerd, directory: Path, n: int) -> Measured:
    corral = CorralDaemon(directory, dockerd, n)
    try:
        corral.up()
        until_all_serve(corral.ports)
        from_start, from_term = restart_and_time(dockerd, corral.ports)
        time.sleep(2)  # what a respawn set aside is removed by now
        dup, stopped = duplicates(dockerd, "corral.service")
        return from_start, from_term, dup, stopped
    finally:
        corral.down()


def bench_baseline(dockerd: IsolatedDockerd, n: int) -> Measured:
    ports = [BASE_PORT + i for i in range(n)]
    try:
        for i, port in enumerate(ports):
            done = dockerd.docker(
                "run", "-d", "--restart", "always", "--stop-timeout", str(STOP_TIMEOUT),
                "--name", f"relabase{i}", "--label", f"relabase=relabase{i}",
                "-p", f"127.0.0.1:{port}:80", BUSYBOX_REF, *HTTPD,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"docker run: {done.stderr.strip()}")
        until_all_serve(ports)
        from_start, from_term = restart_and_time(dockerd, ports)
        time.sleep(2)
        dup, stopped = duplicates(dockerd, "relabase")
        return from_start, from_term, dup, stopped
    finally:
        ids = dockerd.docker("ps", "-aq", "--filter", "label=relabase").stdout.split()
        if ids:
            dockerd.docker("rm", "-f", *ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="containers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    compile_corral()
    results: dict[str, list[Measured]] = {"corral": [], "baseline": []}
    root = Path(tempfile.mkdtemp(prefix="rela-bench-"))
    dockerd = IsolatedDockerd(root / "dockerd", BRIDGE, SUBNET)
    failure: BaseException | None = None
    try:
        dockerd.start()
        dockerd.busybox_image()
        for r in range(args.rounds):
            order = ["corral", "baseline"] if r % 2 == 0 else ["baseline", "corral"]
            for key in order:
                if key == "corral":
                    result = bench_corral(dockerd, root / f"corral{r}", args.n)
                else:
                    result = bench_baseline(dockerd, args.n)
                results[key].append(result)
                print(f"  round {r + 1} {key}: all {args.n} serve {result[0]:.2f}s after the "
                      f"start ({result[1]:.2f}s after SIGTERM), duplicates {result[2]}, "
                      f"not running {result[3]}", flush=True)  # fmt: skip
    except BaseException as error:  # still print what was measured
        failure = error
        traceback.print_exc()
    finally:
        dockerd.cleanup()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    if results["corral"] and results["baseline"]:
        corral = statistics.median(r[0] for r in results["corral"])
        base = statistics.median(r[0] for r in results["baseline"])
        corral_term = statistics.median(r[1] for r in results["corral"])
        base_term = statistics.median(r[1] for r in results["baseline"])
        dups = sum(r[2] for r in results["corral"])
        print(f"recovery of {args.n} after a dockerd restart (median of "
              f"{len(results['corral'])}/{len(results['baseline'])} rounds):")  # fmt: skip
        print(f"  from the new start: corral {corral:.2f}s, --restart always {base:.2f}s, "
              f"ratio {corral / base:.2f}x (target <= 1.2)")  # fmt: skip
        print(f"  from the SIGTERM:   corral {corral_term:.2f}s, --restart always "
              f"{base_term:.2f}s, ratio {corral_term / base_term:.2f}x")  # fmt: skip
        print(f"  duplicates under corral: {dups} (target 0)")
    else:
        print(f"measured: {json.dumps(results)}")
    if failure is not None:
        raise SystemExit(f"bench_recovery failed: {failure!r}")


if __name__ == "__main__":
    main()
