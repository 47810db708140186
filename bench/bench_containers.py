"""Create+start N busybox containers, K in flight, three ways, ratios in one run:

(engine) corral's engine layer: ``containers.create_and_start`` (CLI create
         through the runner, start through the one API connection);
(api)    raw Engine API calls (aiodocker create + start): the engine's floor;
(run)    ``<runtime> run -d`` CLI calls.

    python bench/bench_containers.py [--runtime docker|podman] [-n 50] [-j 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import busybox_image

from corral.config import OciContainer
from corral.engine import containers
from corral.engine.client import Engine, connect
from corral.engine.runner import run_cli

COMMAND = ["sleep", "3600"]


async def bounded(jobs: list[Callable[[], Awaitable[object]]], inflight: int) -> float:
    gate = asyncio.Semaphore(inflight)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await job()

    began = time.perf_counter()
    await asyncio.gather(*(one(j) for j in jobs))
    return time.perf_counter() - began


async def cleanup(engine: Engine, names: list[str], inflight: int) -> None:
    async def remove(name: str) -> None:
        with contextlib.suppress(Exception):  # best effort
            await engine.api.containers.container(name).delete(force=True)

    await bounded([partial(remove, x) for x in names], inflight)


async def main(runtime: str, n: int, inflight: int, socket: str | None) -> None:
    image = busybox_image(runtime)
    engine = await connect(runtime, socket)
    run_id = uuid.uuid4().hex[:6]
    results: dict[str, float] = {}
    try:
        names = [f"corral-bench-e-{run_id}-{i}" for i in range(n)]
        decls = [OciContainer(image=image, provision=x, command=COMMAND) for x in names]
        results["engine"] = await bounded(
            [
                partial(containers.create_and_start, engine, c, x)
                for c, x in zip(decls, names, strict=True)
            ],
            inflight,
        )
        await cleanup(engine, names, inflight)

        api_names = [f"corral-bench-a-{run_id}-{i}" for i in range(n)]

        async def api_create_start(name: str) -> None:
            made = await engine.api.containers.create({"Image": image, "Cmd": COMMAND}, name=name)
            await made.start()

        results["api"] = await bounded([partial(api_create_start, x) for x in api_names], inflight)
        await cleanup(engine, api_names, inflight)

        run_names = [f"corral-bench-r-{run_id}-{i}" for i in range(n)]
        results["run"] = await bounded(
            [
                partial(run_cli, [runtime, "run", "-d", "--name", x, image, *COMMAND])
                for x in run_names
            ],
            inflight,
        )
        await cleanup(engine, run_names, inflight)
    finally:
        await engine.close()
    print(f"{runtime}: {n} containers, {inflight} in flight")
    for key, label in (
        ("engine", "corral engine layer"),
        ("api", "raw Engine API"),
        ("run", "run -d"),
    ):
        print(f"  {label:20s} {results[key]:6.2f} s")
    print(f"  ratio engine/api = {results['engine'] / results['api']:.2f}  (target <= 1.15)")
    print(f"  ratio engine/run = {results['engine'] / results['run']:.2f}  (target <= 1.0)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="docker", choices=["docker", "podman"])
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("-j", type=int, default=8)
    parser.add_argument("--socket", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.runtime, args.n, args.j, args.socket))
