"""Benchmark a Dockerfile build whose context did not change (issue 18).

    python bench/bench_build.py [--files N] [--runs N] [--runtime docker|podman]

A context of N files (default 2000, ~40 MiB, a .dockerignore keeping a
directory out) and a ``FROM scratch`` + ``ARG`` + ``COPY`` Dockerfile is built
once; then, in the same run, the median of ``--runs`` of:

  * baseline: ``docker build -q`` of the same context with a warm cache (the
    legacy builder: it tars and sends the context, then finds every step in
    its cache);
  * corral: the skip a container start pays (``engine.build.build``: the
    context walked with .dockerignore, its files' stamps looked up in the
    digest cache, the engine asked whether it still holds the image under its
    name), in process, on one engine connection;
  * for reference (not the target): ``corral image build NAME`` as a command,
    its Python start and configuration load included.

Target: corral's skip ≤ 0.2× the warm ``docker build``. The image and the
temporary directory are removed whatever happens; the figures measured so far
are printed even on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from corral.config import OciImage
from corral.engine.build import build
from corral.engine.client import connect
from corral.engine.endpoint import endpoint_for
from corral.engine.images import EngineImages

TARGET = 0.2


def make_context(root: Path, files: int, tag: str) -> None:
    pool = os.urandom(1 << 20)
    for i in range(files):
        path = root / f"src/d{i % 50:02d}/f{i}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 4096 + (i * 7919) % (36 * 1024)
        start = (i * 104729) % (len(pool) - size)
        path.write_bytes(pool[start : start + size])
    (root / "cache").mkdir()
    for i in range(200):
        (root / "cache" / f"c{i}.tmp").write_bytes(pool[:4096])
    (root / ".dockerignore").write_text("cache\n**/*.tmp\n")
    (root / "Dockerfile").write_text(f"FROM scratch\nARG V_{tag}=1\nCOPY src /src\n")


def remove_image(runtime: str, reference: str) -> None:
    """The image and its build's intermediate parents (Podman keeps them dangling)."""
    chain, current = [], reference
    while current:
        done = subprocess.run(
            [runtime, "image", "inspect", current, "--format", "{{.Parent}}"],
            capture_output=True, text=True,
        )  # fmt: skip
        current = done.stdout.strip() if done.stdout.strip().startswith("sha256:") else ""
        if current:
            chain.append(current)
    subprocess.run([runtime, "rmi", "-f", reference], capture_output=True)
    for parent in chain:
        subprocess.run([runtime, "rmi", parent], capture_output=True)


def remove_dangling(runtime: str, mark: str) -> None:
    """Dangling images of this run's builds (their history holds ``mark``): the
    baseline's own intermediate images, which Podman keeps."""
    listed = subprocess.run(
        [runtime, "images", "-a", "-q", "--filter", "dangling=true"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for image_id in dict.fromkeys(listed):
        history = subprocess.run(
            [runtime, "image", "inspect", image_id, "--format", "{{json .History}}"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        if mark in history:
            subprocess.run([runtime, "rmi", image_id], capture_output=True)


def median_of(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def corral_skips(runtime: str, image: OciImage, state: str, runs: int) -> tuple[float, bool]:
    engine = await connect(endpoint_for(None, runtime, state))  # type: ignore[arg-type]
    try:
        store = EngineImages(engine)
        await build(engine, store, image, state_dir=state)  # the first: learns the digest
        times, built_again = [], False
        for _ in range(runs):
            started = time.perf_counter()
            _, built = await build(engine, store, image, state_dir=state)
            times.append(time.perf_counter() - started)
            built_again |= built
        return statistics.median(times), built_again
    finally:
        await engine.close()
        if engine.service is not None and engine.service.started:
            await engine.service.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--runtime", default="docker", choices=("docker", "podman"))
    args = parser.parse_args()
    runtime = args.runtime
    work = Path(tempfile.mkdtemp(prefix="life18-bench-build-"))
    context, state = work / "ctx", work / "state"
    context.mkdir()
    tag = uuid.uuid4().hex[:8]
    reference = f"localhost/life18-bench-build:{tag}"
    image = OciImage(
        repository="localhost/life18-bench-build", tag=tag, build={"context": str(context)}
    )
    figures: dict[str, float] = {}
    try:
        make_context(context, args.files, tag)
        sent = sum(f.stat().st_size for f in (context / "src").rglob("*") if f.is_file())
        print(f"context: {args.files} files sent, {sent / (1 << 20):.1f} MiB; {runtime}")
        argv = [runtime, "build", "-q", "-t", reference, str(context)]
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}

        def engine_build() -> None:
            subprocess.run(argv, check=True, capture_output=True, env=env)

        engine_build()  # warms its cache
        figures["baseline"] = median_of(args.runs, engine_build)
        print(f"{runtime} build (warm cache):   {figures['baseline'] * 1000:8.1f} ms")
        skip, built_again = asyncio.run(corral_skips(runtime, image, str(state), args.runs))
        figures["corral"] = skip
        print(f"corral skip (in process):     {skip * 1000:8.1f} ms")
        if built_again:
            print("ERROR: corral built again an unchanged context")
            return 1
        config = work / "corral.toml"
        config.write_text(
            f'runtime = "{runtime}"\nstate_dir = "{state}"\n[[container]]\n'
            f'provision = "life18-bench"\nimage = {{ repository = "localhost/life18-bench-build", '
            f'tag = "{tag}", build = {{ context = "ctx" }} }}\n'
        )

        def command() -> None:
            subprocess.run(
                [sys.executable, "-m", "corral", "-c", str(config), "image", "build",
                 "life18-bench"],
                check=True, capture_output=True,
            )  # fmt: skip

        figures["command"] = median_of(max(3, args.runs // 2), command)
        print(f"corral image build (command): {figures['command'] * 1000:8.1f} ms (reference)")
        ratio = figures["corral"] / figures["baseline"]
        verdict = "ok" if ratio <= TARGET else "MISSED"
        print(
            f"ratio corral skip / {runtime} build warm: {ratio:.3f}x "
            f"(target <= {TARGET}x) {verdict}"
        )
        return 0 if ratio <= TARGET else 1
    finally:
        if figures and "corral" not in figures:
            print(f"measured so far: {figures}")
        remove_image(runtime, reference)
        remove_dangling(runtime, f"ARG V_{tag}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
