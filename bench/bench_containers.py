"""corral's container supervision against its baselines, measured in one run.

1. ``corral up`` of N busybox containers (daemon start included) against
   (a) the engine's floor: N create+start calls straight to the Engine API,
       8 in flight;
   (b) N ``docker run -d`` CLI calls, 8 in flight;
   (c) ``docker-compose up -d`` (Debian's docker-compose 1.29) of the same N.
   Targets: <= 1.15x (a), <= 1.0x (b), <= 0.7x (c). For reference, also
   ``corral up`` with its daemon already serving the file (as under systemd,
   or as dockerd serves compose and ``docker run``), and what target (c)
   asks of any client here: the floor's own ratio to docker-compose.
2. RSS of corral's own processes while supervising M containers, against the
   seed's design: M foreground ``docker run`` CLIs (their RSS summed).
   Target: <= 80 MB total.
3. Respawn latency (container exit -> its replacement running) against a bare
   ``docker run -d`` of the same image. Target: <= 1.3x.

``--against SRC`` (another checkout's ``src``) adds that corral as one more way
of starting, in the same shuffled rounds, and measures its respawn too: a
before/after comparison in one run.

    python bench/bench_containers.py [-n 50] [-m 100] [--rounds 5] [--against SRC]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import busybox_image, ensure_dockerd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleanup import corral_down
from installed import compile_corral, corral_argv

INFLIGHT = 8
COMMAND = ["sleep", "3600"]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def remove_all(prefix: str) -> None:
    names = sh("docker", "ps", "-aq", "--filter", f"name={prefix}").stdout.split()
    for start in range(0, len(names), 50):
        sh("docker", "rm", "-f", *names[start : start + 50], check=False)


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


# -- 1. up ------------------------------------------------------------------------


async def api_floor(image: str, names: list[str]) -> float:
    import aiodocker

    docker = aiodocker.Docker(url="unix:///var/run/docker.sock")
    gate = asyncio.Semaphore(INFLIGHT)

    async def one(name: str) -> None:
        async with gate:
            created = await docker.containers.create({"Image": image, "Cmd": COMMAND}, name=name)
            await created.start()

    try:
        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in names))
        return time.perf_counter() - began
    finally:
        await docker.close()


def cli_runs(image: str, names: list[str]) -> float:
    began = time.perf_counter()
    pending = list(names)
    running: list[subprocess.Popen[bytes]] = []
    while pending or running:
        while pending and len(running) < INFLIGHT:
            running.append(
                subprocess.Popen(
                    ["docker", "run", "-d", "--name", pending.pop(), image, *COMMAND],
                    stdout=subprocess.DEVNULL,
                )
            )
        running[0].wait()
        running = [p for p in running if p.poll() is None]
    return time.perf_counter() - began


def compose_up(
    image: str, names: list[str], directory: Path, after: Callable[[], object] = lambda: None
) -> float:
    """``docker-compose up -d`` of ``names``, timed; ``after()`` runs before the ``down``."""
    lines = ['version: "3"', "services:"]
    for name in names:
        lines += [f"  {name}:", f"    image: {image}", f"    container_name: {name}",
                  f"    command: {json.dumps(COMMAND)}"]  # fmt: skip
    (directory / "docker-compose.yml").write_text("\n".join(lines) + "\n")
    began = time.perf_counter()
    try:
        sh("docker-compose", "-f", str(directory / "docker-compose.yml"), "-p", "corralbench",
           "up", "-d")  # fmt: skip
        elapsed = time.perf_counter() - began
        after()
    finally:
        sh("docker-compose", "-f", str(directory / "docker-compose.yml"), "-p", "corralbench",
           "down", "-t", "0", check=False)  # fmt: skip
    return elapsed


def corral_config(image: str, names: list[str], directory: Path, extra: str = "") -> Path:
    body = "".join(
        f'[[container]]\nprovision = "{n}"\nimage = "{image}"\n'
        f"command = {json.dumps(COMMAND)}\nstop_timeout = 0\n{extra}\n"
        for n in names
    )
    path = directory / "corral.toml"
    path.write_text('runtime = "docker"\n' + body)
    return path


class Corral:
    def __init__(self, directory: Path, src: str | None = None) -> None:
        """corral with its state in ``directory``; from source tree ``src`` when given."""
        self.directory = directory
        self.socket = directory / "corral.sock"
        self.env = {**os.environ, "CORRAL_STATE_DIR": str(directory / "state")}
        if src is not None:
            self.env["PYTHONPATH"] = src

    def run(self, config: Path, *args: str) -> float:
        began = time.perf_counter()
        subprocess.run(
            [*corral_argv(), "-c", str(config), "--socket", str(self.socket), *args],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - began

    def down(self, config: Path) -> None:
        """``down`` whatever happens: a daemon that does not go is killed, with
        what it runs."""
        argv = [*corral_argv(), "-c", str(config), "--socket", str(self.socket)]
        for line in corral_down(argv, self.env, str(self.directory / "state")):
            print(f"corral cleanup: {line}", file=sys.stderr)

    def serve(self, config: Path) -> subprocess.Popen[bytes]:
        """``corral daemon`` on ``config`` in the background, once it answers."""
        from corral.control.client import answers

        daemon = subprocess.Popen(
            [*corral_argv(), "-c", str(config), "--socket", str(self.socket), "daemon"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not answers(str(self.socket)):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"corral daemon on {config} did not serve")
            time.sleep(0.05)
        return daemon

    def daemon_pid(self) -> int:
        log = (self.directory / "state" / "daemon.log").read_text().splitlines()
        line = next(x for x in reversed(log) if " serving " in x)
        return int(line.split(" pid ", 1)[1].split()[0])


def settle() -> None:
    """Let the engine finish the previous phase's clean-up (and the disk its writeback)."""
    os.sync()
    time.sleep(1.0)


def first_create(prefix: str, began: float) -> float | None:
    """Seconds from ``began`` (epoch) to the engine's first ``create`` of a
    container named ``prefix…``: a phase's start-up, apart from its steady state."""
    out = sh("docker", "events", "--since", f"{began - 1:.3f}", "--until", f"{time.time():.3f}",
             "--filter", "type=container", "--filter", "event=create",
             "--format", "{{json .}}").stdout  # fmt: skip
    stamps = [
        event["timeNano"] / 1e9
        for event in map(json.loads, out.splitlines())
        if event["Actor"]["Attributes"].get("name", "").startswith(prefix)
    ]
    return min(stamps) - began if stamps else None


def bench_up(image: str, n: int, rounds: int, against: str | None = None) -> dict[str, float]:
    """Each way of starting's median, in seconds."""
    times: dict[str, list[float]] = {
        "api": [], "run": [], "compose": [], "corral": [], "serving": []
    }  # fmt: skip
    if against is not None:
        times["against"] = []
    starts: dict[str, list[float]] = {k: [] for k in times}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)

        began = 0.0

        def observe(key: str, prefix: str) -> None:
            # before any removal: the engine keeps only its last 256 events
            first = first_create(prefix, began)
            if first is not None:
                starts[key].append(first)

        def corral_up(key: str, names: list[str], r: int) -> float:
            corral = Corral(directory / f"{key}{r}", against if key == "against" else None)
            corral.directory.mkdir()
            config = corral_config(image, names, corral.directory)
            # serving: the daemon already runs the file, its services stopped
            daemon = corral.serve(config) if key == "serving" else None
            try:
                settle()
                nonlocal began
                began = time.time()
                elapsed = corral.run(config, "up")
                observe(key, names[0][:-1])
            finally:
                corral.down(config)  # stops the daemon too
                if daemon is not None:
                    daemon.wait(60)
                remove_all(names[0][:-1])
            return elapsed

        def other_up(key: str, names: list[str]) -> float:
            settle()
            nonlocal began
            began = time.time()
            if key == "compose":
                return compose_up(image, names, directory, lambda: observe(key, names[0][:-1]))
            elapsed = (
                asyncio.run(api_floor(image, names)) if key == "api" else cli_runs(image, names)
            )
            observe(key, names[0][:-1])
            return elapsed

        phases: dict[str, Callable[[list[str], int], float]] = {
            "api": lambda names, r: other_up("api", names),
            "run": lambda names, r: other_up("run", names),
            "compose": lambda names, r: other_up("compose", names),
            "corral": lambda names, r: corral_up("corral", names, r),
            "serving": lambda names, r: corral_up("serving", names, r),
        }
        if against is not None:
            phases["against"] = lambda names, r: corral_up("against", names, r)
        letter = {
            "api": "a", "run": "r", "compose": "c", "corral": "k", "serving": "s", "against": "b",
        }  # fmt: skip
        # A new order each round (seeded: the same in every run), so no way of
        # starting always follows the same one and inherits its clean-up.
        shuffle = random.Random(4)
        for r in range(rounds):
            tag = uuid.uuid4().hex[:6]
            order = list(phases)
            shuffle.shuffle(order)
            for key in order:
                names = [f"cb{tag}{letter[key]}{i}" for i in range(n)]
                times[key].append(phases[key](names, r))
                remove_all(f"cb{tag}{letter[key]}")
            done = ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
            print(f"  round {r + 1} ({' '.join(order)}): {done}", flush=True)
    firsts = ", ".join(f"{k} {statistics.median(v):.2f}s" for k, v in starts.items() if v)
    print(f"  first create after (median): {firsts}")
    return {k: statistics.median(v) for k, v in times.items()}


# -- 2. RSS -----------------------------------------------------------------------


def bench_rss(image: str, m: int) -> tuple[float, float]:
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        corral = Corral(directory)
        names = [f"cb{tag}m{i}" for i in range(m)]
        config = corral_config(image, names, directory)
        try:
            corral.run(config, "up")
            time.sleep(2)
            corral_kib = rss_kib(corral.daemon_pid())
        finally:
            corral.down(config)
            remove_all(f"cb{tag}m")
    seeds: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(m):
            seeds.append(
                subprocess.Popen(
                    ["docker", "run", "--rm", "--name", f"cb{tag}s{i}", image, *COMMAND],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = sh("docker", "ps", "-q", "--filter", f"name=cb{tag}s").stdout.split()
            if len(running) >= m:
                break
            time.sleep(0.5)
        time.sleep(2)
        seed_kib = sum(rss_kib(p.pid) for p in seeds)
    finally:
        for process in seeds:
            process.send_signal(signal.SIGTERM)
        remove_all(f"cb{tag}s")
        for process in seeds:
            process.wait(30)
    return corral_kib / 1024, seed_kib / 1024


# -- 3. respawn latency -------------------------------------------------------------


def event_times(since: float, until: float, name_prefix: str) -> list[tuple[float, str]]:
    out = sh("docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
             "--filter", "type=container", "--format", "{{json .}}").stdout  # fmt: skip
    found = []
    for line in out.splitlines():
        event = json.loads(line)
        name = event.get("Actor", {}).get("Attributes", {}).get("name", "")
        if name.startswith(name_prefix) and event.get("status") in ("die", "start"):
            found.append((event["timeNano"] / 1e9, event["status"]))
    return found


def bench_respawn(image: str, rounds: int, src: str | None = None) -> tuple[float, float]:
    tag = uuid.uuid4().hex[:6]
    name = f"cb{tag}respawn"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        corral = Corral(directory, src)
        (directory / "corral.toml").write_text(
            'runtime = "docker"\n[[container]]\n'
            f'provision = "{name}"\nimage = "{image}"\n'
            'command = ["sh", "-c", "sleep 1; exit 1"]\nrespawn = true\nrespawn_delay = 0\n'
            f"respawn_limit = [{rounds + 5}, 600]\n"
        )
        began = time.time()
        try:
            corral.run(directory / "corral.toml", "up")
            time.sleep(1.6 * rounds + 2)
            ended = time.time()
        finally:
            corral.down(directory / "corral.toml")
            remove_all(name)
    events = event_times(began, ended, name)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(events)
            if a[1] == "die" and b[1] == "start"]  # fmt: skip
    bare = []
    for i in range(rounds):
        began_run = time.perf_counter()
        sh("docker", "run", "-d", "--name", f"cb{tag}bare{i}", image, *COMMAND)
        bare.append(time.perf_counter() - began_run)
    remove_all(f"cb{tag}")
    return statistics.median(gaps), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="containers for `up`")
    parser.add_argument("-m", type=int, default=100, help="containers for RSS")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["up", "rss", "respawn"], action="append")
    parser.add_argument(
        "--against", metavar="SRC", help="also run the corral in this source tree (before/after)"
    )
    args = parser.parse_args()
    if shutil.which("docker-compose") is None:
        sys.exit("docker-compose is needed: apt-get install docker-compose")
    ensure_dockerd()
    compile_corral()
    if args.against is not None:
        import compileall

        compileall.compile_dir(str(Path(args.against) / "corral"), quiet=1)
    image = busybox_image("docker")
    only = set(args.only or ["up", "rss", "respawn"])
    rows: list[tuple[str, float, float, str]] = []
    if "up" in only:
        up = bench_up(image, args.n, args.rounds, args.against)
        print(f"up of {args.n} (median of {args.rounds}): " + json.dumps(up))
        rows += [
            ("up vs API floor", up["corral"], up["corral"] / up["api"], "<= 1.15"),
            ("up vs docker run -d", up["corral"], up["corral"] / up["run"], "<= 1.0"),
            ("up vs docker-compose", up["corral"], up["corral"] / up["compose"], "<= 0.7"),
            ("  daemon serving: floor", up["serving"], up["serving"] / up["api"], "(reference)"),
            ("  ... docker run -d", up["serving"], up["serving"] / up["run"], "(reference)"),
            ("  ... docker-compose", up["serving"], up["serving"] / up["compose"], "(reference)"),
            # (c) asks this of any client: the floor itself scores this against compose
            ("floor vs docker-compose", up["api"], up["api"] / up["compose"], "(reference)"),
        ]
        if "against" in up:
            rows.append(("up vs --against", up["corral"], up["corral"] / up["against"], "(a/b)"))
    if "rss" in only:
        corral_mib, seed_mib = bench_rss(image, args.m)
        print(f"RSS with {args.m} containers: corral {corral_mib:.1f} MiB, "
              f"{args.m} docker run CLIs {seed_mib:.1f} MiB")  # fmt: skip
        rows.append(("RSS MiB (vs seed)", corral_mib, corral_mib / seed_mib, "<= 80 MB"))
    if "respawn" in only:
        respawn, bare = bench_respawn(image, max(args.rounds, 5))
        print(f"respawn: exit -> running {respawn:.3f} s; bare docker run -d {bare:.3f} s")
        rows.append(("respawn latency", respawn, respawn / bare, "<= 1.3"))
        if args.against is not None:
            before, bare_before = bench_respawn(image, max(args.rounds, 5), args.against)
            print(f"respawn (--against): {before:.3f} s; bare docker run -d {bare_before:.3f} s")
            rows.append(("  --against respawn", before, before / bare_before, "(reference)"))
            rows.append(("respawn vs --against", respawn, respawn / before, "(a/b)"))
    print(f"\n{'':24}{'value':>10}{'ratio':>8}  target")
    for label, value, ratio, target in rows:
        print(f"{label:24}{value:10.3f}{ratio:8.2f}  {target}")


if __name__ == "__main__":
    main()
