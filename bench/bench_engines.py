"""corral running the engines itself, against the same done by hand, in one run.

An isolated containerd + dockerd under a temp root with a bridge of its own
(the host's dockerd is not touched). The image is loaded once, before timing.

1. Cold start: from ``corral up`` (corral starting containerd and dockerd
   itself) to the container's first HTTP answer, against by hand:
   ``containerd &``, ``dockerd --containerd … &``, poll ``docker info``,
   ``docker run -d``, poll the port. Target: <= 1.1x.
2. Recovery: with N respawn containers serving HTTP, kill -9 of dockerd until
   all N answer again — corral respawning dockerd and its containers, against
   a hand-written loop that starts dockerd again, polls ``docker info``,
   removes the old containers and ``docker run -d``'s the N (8 in flight).
   Target: <= 1.2x, and 0 duplicates (more than one container of a name).

    python bench/bench_engines.py [-n 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from installed import compile_corral, corral_argv

INFLIGHT = 8
PORT = 21900  # PORT + i for container i
IMAGE_REF = "localhost/corral-bench-engines:1"
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]


def sh(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def until(predicate: Callable[[], bool], timeout: float, every: float = 0.02) -> float:
    """Poll ``predicate``; the seconds it took. ``TimeoutError`` past ``timeout``."""
    began = time.perf_counter()
    while not predicate():
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"{predicate} not true within {timeout} s")
        time.sleep(every)
    return time.perf_counter() - began


class Instance:
    """The isolated engine instance's paths, and how to run it by hand."""

    def __init__(self, root: Path, bridge: str) -> None:
        self.root = root
        self.bridge = bridge
        self.ctd_socket = root / "run" / "ctd" / "containerd.sock"
        self.socket = root / "run" / "docker.sock"
        self.pid_file = root / "run" / "docker.pid"
        self.config_file = root / "daemon.json"
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def docker(self) -> list[str]:
        return ["docker", "-H", f"unix://{self.socket}"]

    def containerd_argv(self) -> list[str]:
        return [
            "containerd", "--address", str(self.ctd_socket),
            "--root", str(self.root / "lib" / "containerd"),
            "--state", str(self.root / "run" / "ctd" / "state"),
        ]  # fmt: skip

    def dockerd_argv(self) -> list[str]:
        return [
            "dockerd", "-p", str(self.pid_file), f"--config-file={self.config_file}",
            "--userland-proxy=true", f"--userland-proxy-path={shutil.which('docker-proxy')}",
            "--iptables", "--containerd", str(self.ctd_socket),
            f"--data-root={self.root / 'lib' / 'docker'}",
            f"--exec-root={self.root / 'run' / 'docker'}", "--host", f"unix://{self.socket}",
        ]  # fmt: skip

    def spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{Path(argv[0]).name}.hand.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        self.processes.append(process)
        return process

    def docker_info(self) -> bool:
        try:
            return sh(*self.docker, "info", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def stop_by_hand(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()

    def config(self, count: int) -> str:
        head = f"""runtime = "docker"
[containerd]
address = "{self.ctd_socket}"
root = "{self.root / "lib" / "containerd"}"
state = "{self.root / "run" / "ctd" / "state"}"
[docker]
host = "unix://{self.socket}"
data_root = "{self.root / "lib" / "docker"}"
exec_root = "{self.root / "run" / "docker"}"
pid_file = "{self.pid_file}"
config_file = "{self.config_file}"
"""
        image = f"""
[container.image]
repository = "{IMAGE_REF.split(":")[0]}"
tag = "1"
programs = ["/bin/busybox"]
symlinks = [["/bin/sh", "/bin/busybox"], ["/bin/httpd", "/bin/busybox"]]
files = [["{self.root / "www"}", "/www"]]
"""
        body = ""
        for i in range(count):
            body += f"""
[[container]]
provision = "bench-{i}"
command = {HTTPD!r}
ports = ["127.0.0.1:{PORT + i}:8080"]
respawn = true
respawn_limit = {{ starts = 100, seconds = 10 }}
stop_timeout = 0
""".replace("'", '"')
            body += image if i == 0 else f'image = "{IMAGE_REF}"\n'
        return head + body


@contextlib.contextmanager
def isolated() -> Iterator[Instance]:
    root = Path(tempfile.mkdtemp(prefix="corral-be-", dir="/tmp"))
    bridge = f"crb{uuid.uuid4().hex[:8]}"
    sh("ip", "link", "add", bridge, "type", "bridge")
    sh("ip", "addr", "add", "10.232.9.1/24", "dev", bridge)
    sh("ip", "link", "set", bridge, "up")
    (root / "daemon.json").write_text(f'{{"bridge": "{bridge}"}}\n')
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("bench\n")
    instance = Instance(root, bridge)
    try:
        yield instance
    finally:
        instance.stop_by_hand()
        from corral.supervisor.leftovers import sweep

        sweep((str(root),))
        sh("ip", "link", "del", bridge, check=False)
        shutil.rmtree(root, ignore_errors=True)


class Corral:
    def __init__(self, instance: Instance, count: int) -> None:
        self.config = instance.root / f"corral-{count}.toml"
        self.config.write_text(instance.config(count))
        self.socket = instance.root / "corral.sock"
        self.env = {**os.environ, "CORRAL_STATE_DIR": str(instance.root / "state")}

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = [*corral_argv(), "-c", str(self.config), "--socket", str(self.socket), *args]
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def down(self) -> None:
        done = self.run("down")
        if done.returncode != 0:
            print(f"  (corral down: {done.stderr.strip()})", file=sys.stderr)


def names_on(instance: Instance) -> list[str]:
    done = sh(*instance.docker, "ps", "-a", "--format", "{{.Names}}", check=False)
    return done.stdout.split()


# -- 1. cold start -----------------------------------------------------------------


def corral_cold(instance: Instance) -> float:
    corral = Corral(instance, 1)
    began = time.perf_counter()
    try:
        up = corral.run("up")
        if up.returncode != 0:
            raise RuntimeError(f"corral up: {up.stderr}")
        until(lambda: answers(PORT), 60)
        return time.perf_counter() - began
    finally:
        corral.down()


def hand_cold(instance: Instance) -> float:
    began = time.perf_counter()
    try:
        instance.spawn(instance.containerd_argv())
        until(lambda: instance.ctd_socket.exists(), 60, every=0.01)
        instance.spawn(instance.dockerd_argv())
        until(instance.docker_info, 60, every=0.05)
        sh(*instance.docker, "run", "-d", "--name", "bench-0", "-p", f"127.0.0.1:{PORT}:8080",
           IMAGE_REF, *HTTPD)  # fmt: skip
        until(lambda: answers(PORT), 60)
        return time.perf_counter() - began
    finally:
        sh(*instance.docker, "rm", "-f", "bench-0", check=False)
        instance.stop_by_hand()


# -- 2. recovery -------------------------------------------------------------------


def all_answer(count: int) -> bool:
    return all(answers(PORT + i) for i in range(count))


def duplicates(instance: Instance) -> int:
    names = names_on(instance)
    return len(names) - len(set(names))


def corral_recovery(instance: Instance, count: int) -> tuple[float, int]:
    corral = Corral(instance, count)
    try:
        up = corral.run("up")
        if up.returncode != 0:
            raise RuntimeError(f"corral up: {up.stderr}")
        until(lambda: all_answer(count), 120)
        pid = int(instance.pid_file.read_text())
        began = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        until(lambda: not answers(PORT), 10)  # it went down
        until(lambda: all_answer(count), 180, every=0.05)
        took = time.perf_counter() - began
        time.sleep(1)  # a late duplicate would show now
        return took, duplicates(instance)
    finally:
        corral.down()


def hand_recovery(instance: Instance, count: int) -> tuple[float, int]:
    names = [f"bench-{i}" for i in range(count)]

    def run(i: int) -> None:
        sh(*instance.docker, "run", "-d", "--name", names[i], "-p",
           f"127.0.0.1:{PORT + i}:8080", IMAGE_REF, *HTTPD)  # fmt: skip

    try:
        instance.spawn(instance.containerd_argv())
        until(lambda: instance.ctd_socket.exists(), 60, every=0.01)
        dockerd = instance.spawn(instance.dockerd_argv())
        until(instance.docker_info, 60, every=0.05)
        with ThreadPoolExecutor(INFLIGHT) as pool:
            list(pool.map(run, range(count)))
        until(lambda: all_answer(count), 120)
        began = time.perf_counter()
        dockerd.kill()
        dockerd.wait()
        # the hand-written loop: dockerd is gone → start it, wait, run the N again
        instance.processes.remove(dockerd)
        instance.spawn(instance.dockerd_argv())
        until(instance.docker_info, 60, every=0.05)
        sh(*instance.docker, "rm", "-f", *names, check=False)
        with ThreadPoolExecutor(INFLIGHT) as pool:
            list(pool.map(run, range(count)))
        until(lambda: all_answer(count), 180, every=0.05)
        took = time.perf_counter() - began
        time.sleep(1)
        return took, duplicates(instance)
    finally:
        sh(*instance.docker, "rm", "-f", *names, check=False)
        instance.stop_by_hand()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="containers in the recovery test")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_engines: run as root (it starts containerd and dockerd)")
    compile_corral()
    results: dict[str, list[float]] = {"corral cold": [], "hand cold": []}
    recovery: dict[str, list[float]] = {"corral": [], "hand": []}
    dups = {"corral": 0, "hand": 0}
    with isolated() as instance:
        try:
            # load the image once (corral builds and loads it), untimed
            corral_cold(instance)
            for round_ in range(args.rounds):
                order = [corral_cold, hand_cold] if round_ % 2 == 0 else [hand_cold, corral_cold]
                for way in order:
                    key = "corral cold" if way is corral_cold else "hand cold"
                    results[key].append(way(instance))
                ways = [("corral", corral_recovery), ("hand", hand_recovery)]
                for name, recover in ways if round_ % 2 == 0 else ways[::-1]:
                    took, dup = recover(instance, args.n)
                    recovery[name].append(took)
                    dups[name] += dup
        finally:
            report(results, recovery, dups, args.n)


def report(
    results: dict[str, list[float]],
    recovery: dict[str, list[float]],
    dups: dict[str, int],
    count: int,
) -> None:
    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    corral, hand = median(results["corral cold"]), median(results["hand cold"])
    print("1. cold start, up to the first HTTP answer (median of rounds)")
    print(
        f"   corral up (containerd + dockerd + container): {fmt(corral)}  {results['corral cold']}"
    )
    print(f"   by hand:                                      {fmt(hand)}  {results['hand cold']}")
    if corral and hand:
        print(f"   ratio corral/hand: {corral / hand:.2f}x  (target <= 1.1x)")
    corral_r, hand_r = median(recovery["corral"]), median(recovery["hand"])
    print(f"2. recovery after kill -9 of dockerd, {count} respawn containers serving again")
    print(f"   corral: {fmt(corral_r)}  {recovery['corral']}")
    print(f"   hand-written loop: {fmt(hand_r)}  {recovery['hand']}")
    if corral_r and hand_r:
        print(f"   ratio corral/hand: {corral_r / hand_r:.2f}x  (target <= 1.2x)")
    print(f"   duplicates: corral {dups['corral']}, hand {dups['hand']}  (target 0)")


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


if __name__ == "__main__":
    main()
