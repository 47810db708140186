"""Benchmark corral's image builder on a ~1 GB tree of mixed large and small files.

    python bench/bench_image.py [--tree DIR] [--runs N] [--no-docker]

Measures, in one run:
  * build throughput against ``sha256sum`` of the same bytes (warm page cache;
    target: corral ≥ 0.6× sha256sum's speed);
  * build + load into dockerd (``engine.images.present``, as container services
    call it: a digest pass over the layers, then the archive streamed into the
    Engine API's ``/images/load`` — its big base layer by import first — never
    written to disk) against ``docker build`` of ``FROM scratch`` + ``COPY`` of
    the same tree (legacy builder, ``--no-cache``; target ≥ 3×).

The tree is generated once under /tmp (random bytes) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from corral.config import OciImage
from corral.engine.client import connect
from corral.engine.endpoint import endpoint_for
from corral.engine.images import present
from corral.image import build_image

TREE = Path(tempfile.gettempdir()) / "corral-bench-tree"
LARGE = [(f"large/blob{i}.bin", 96 << 20) for i in range(8)]  # 768 MiB
SMALL_COUNT = 24_000  # ~256 MiB in files of 1 KiB … 21 KiB
MiB = 1 << 20


def generate(tree: Path) -> None:
    done = tree / ".complete"
    if done.exists():
        return
    if tree.exists():
        shutil.rmtree(tree)
    print(f"generating {tree} …", flush=True)
    for name, size in LARGE:
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            for _ in range(size // MiB):
                fh.write(os.urandom(MiB))
    pool = os.urandom(32 * MiB)
    for i in range(SMALL_COUNT):
        path = tree / f"small/d{i % 97:02d}/s{i % 7}/f{i}.dat"  # ~35 files a directory
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 1024 + (i * 7919) % (20 * 1024)
        start = (i * 104729) % (len(pool) - size)
        path.write_bytes(pool[start : start + size])
    done.write_text("ok\n")


def tree_bytes(tree: Path) -> tuple[int, int]:
    total = count = 0
    for dirpath, _, files in os.walk(tree):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
            count += 1
    return total, count


#: Seconds ext4 without a journal keeps a deleted inode from reuse: 60, and 300
#: more while its inode table block is dirty (``recently_deleted`` in
#: fs/ext4/ialloc.c).
RECENTCY = 360
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def settle(tree: Path) -> str:
    """Start a phase without paying for the inodes the previous one deleted.

    On an ext4 without a journal (this machine's ``/var/lib/docker``), creating
    a file skips every free inode deleted in the last 60 s — 360 s when its
    inode table block is dirty, and creating a file dirties it — reading the
    inode table to find out, unless that block is no longer in memory. After
    ``docker rmi`` of the tree's image (24 000 files), each of the next
    24 000 creations walks past them: a ``docker import`` of the tree took 27 s
    right after one and 10.5 s once settled. So: ``sync``, drop the clean caches
    (which forgets those blocks), and read the tree back into the page cache.
    Without the right to drop caches, wait the 360 s out. How it settled."""
    os.sync()
    try:
        DROP_CACHES.write_text("1\n")
        how = "caches dropped"
    except OSError:
        time.sleep(RECENTCY + 1)
        how = f"waited {RECENTCY + 1} s"
    subprocess.run(f"find {tree} -type f -print0 | xargs -0 cat >/dev/null", shell=True, check=True)
    return how


def timed(fn: object, *args: object, **kwargs: object) -> float:
    os.sync()  # start each phase without the previous one's dirty pages
    start = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start


def sha256sum(tree: Path) -> None:
    subprocess.run(
        f"find {tree}/large {tree}/small -type f -print0 | xargs -0 -n 4096 sha256sum >/dev/null",
        shell=True,
        check=True,
    )


def image_for(tree: Path, tag: str) -> OciImage:
    return OciImage(repository="localhost/corral-bench/tree", tag=tag, files=[(str(tree), "/data")])


def docker_build(tree: Path, ref: str) -> None:
    with tempfile.TemporaryDirectory(prefix="corral-bench-ctx-") as ctx:
        (Path(ctx) / "Dockerfile").write_text("FROM scratch\nCOPY tree /data\n")
        # hard links: the context holds the same bytes without copying them
        subprocess.run(["cp", "-al", str(tree), str(Path(ctx) / "tree")], check=True)
        done = subprocess.run(
            ["docker", "build", "--no-cache", "-q", "-t", ref, ctx],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # not the legacy builder's deprecation notice
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"docker build failed: {done.stderr.decode(errors='replace')}")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def rmi(ref: str) -> None:
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=TREE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docker-runs", type=int, default=2)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    tree: Path = args.tree
    generate(tree)
    total, count = tree_bytes(tree)
    print(f"tree: {tree}, {count} files, {total / MiB:.0f} MiB")
    out_dir = Path(tempfile.mkdtemp(prefix="corral-bench-out-"))
    try:
        sha256sum(tree)  # warm the page cache
        sha = min(timed(sha256sum, tree) for _ in range(args.runs))
        builds = []
        for _ in range(args.runs):
            out = out_dir / "img.tar"
            builds.append(timed(build_image, image_for(tree, "x"), str(out), sbom=False))
            out.unlink()
        build = min(builds)
        print(f"  (build runs: {_fmt(builds)})")
        print(f"sha256sum:     {sha:6.2f} s  {total / MiB / sha:7.0f} MiB/s")
        print(f"corral build:  {build:6.2f} s  {total / MiB / build:7.0f} MiB/s")
        print(f"  ratio build/sha256sum speed: {sha / build:.2f}x (target >= 0.6x)")
        if args.no_docker:
            return 0
        tag = f"b{uuid.uuid4().hex[:10]}"
        ours_ref, theirs_ref = f"localhost/corral-bench/tree:{tag}", f"corral-bench/docker:{tag}"
        try:
            image = image_for(tree, tag)

            async def load() -> None:
                engine = await connect(endpoint_for(None, "docker", out_dir.as_posix()))
                try:
                    await present(engine, image, state_dir=None)  # what container services call
                finally:
                    await engine.close()

            def build_and_load() -> None:
                asyncio.run(load())

            ours_runs: list[float] = []
            theirs_runs: list[float] = []
            phases = [
                (ours_runs, ours_ref, build_and_load),
                (theirs_runs, theirs_ref, lambda: docker_build(tree, theirs_ref)),
            ]
            for round_ in range(args.docker_runs):
                for runs, ref, phase in phases[round_ % 2 :] + phases[: round_ % 2]:
                    rmi(ref)
                    settled = settle(tree)
                    runs.append(timed(phase))
            print(f"  (before each phase: sync, {settled}, the tree read back)")
            ours, theirs = min(ours_runs), min(theirs_runs)
            print(f"corral build+load:          {ours:6.2f} s  (runs: {_fmt(ours_runs)})")
            print(f"docker build (no buildkit): {theirs:6.2f} s  (runs: {_fmt(theirs_runs)})")
            print(f"  ratio docker build / corral build+load: {theirs / ours:.2f}x (target >= 3x)")
        finally:
            rmi(ours_ref)
            rmi(theirs_ref)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
