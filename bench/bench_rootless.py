"""Rootless ``corral up`` against rootless ``podman run -d``, measured in one run.

A test user (``corral-rl-bench<pid>``, with subordinate id ranges and the
busybox image in its own rootless Podman storage: vfs, slirp4netns) runs,
in alternating rounds:
  (a) ``corral up`` of N containers (daemon and its ``podman system service``
      start included), then ``corral down``;
  (b) N ``podman run -d`` of the same containers, 8 in flight (``xargs -P 8``
      in one shell of the user), then ``podman rm -f``.
Both go through one ``runuser`` each. Target: (a) <= 1.05x (b), medians.
The user and everything of it are removed in ``finally``; the figures
measured so far are printed whatever happens.

    python bench/bench_rootless.py [-n 20] [--rounds 5]   # as root
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import engines
from rootless_users import RootlessUser, remove_view

INFLIGHT = 8
IMAGE = "localhost/corral-rl-busybox:1"


def corral_config(names: list[str]) -> str:
    blocks = [
        f'[[container]]\nprovision = "{name}"\nimage = "{IMAGE}"\n'
        'command = ["sleep", "3600"]\nstop_timeout = 1\n'
        for name in names
    ]
    return 'runtime = "podman"\n\n' + "\n".join(blocks)


def timed(user: RootlessUser, *argv: str, corral: bool = False) -> float:
    began = time.perf_counter()
    res = user.corral(*argv, timeout=600) if corral else user.run(*argv, timeout=600)
    elapsed = time.perf_counter() - began
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {res.stdout}{res.stderr}")
    return elapsed


def podman_runs(user: RootlessUser, names: list[str]) -> float:
    run = f"podman run -d --name {{}} {shlex.quote(IMAGE)} sleep 3600 >/dev/null"
    each = f"xargs -P {INFLIGHT} -I{{}} sh -c {shlex.quote(run)}"
    script = f"printf '%s\\n' {' '.join(names)} | {each}"
    return timed(user, "sh", "-c", script)


def clear(user: RootlessUser) -> None:
    user.run("podman", "rm", "--all", "--force", "--time", "0", timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    corral_times: list[float] = []
    podman_times: list[float] = []
    user: RootlessUser | None = None
    try:
        user = RootlessUser.create("bench")
        with tempfile.TemporaryDirectory(prefix="corral-rl-bench-", dir="/tmp") as directory:
            Path(directory).chmod(0o755)
            tar = Path(directory) / "rootfs.tar"
            engines._rootfs_tar(tar)
            tar.chmod(0o644)
            loaded = user.run("podman", "import", "--change", 'CMD ["/bin/sh"]', str(tar), IMAGE)
            if loaded.returncode != 0:
                raise RuntimeError(f"podman import: {loaded.stderr}")
        for r in range(args.rounds):
            corral_names = [f"rlb-c{r}x{i}" for i in range(args.n)]
            podman_names = [f"rlb-p{r}x{i}" for i in range(args.n)]
            config = user.write(f"bench{r}.toml", corral_config(corral_names))
            order = ["corral", "podman"] if r % 2 == 0 else ["podman", "corral"]
            for which in order:
                time.sleep(1)
                if which == "corral":
                    corral_times.append(timed(user, "-c", str(config), "up", corral=True))
                    user.corral("-c", str(config), "down", timeout=300)
                else:
                    podman_times.append(podman_runs(user, podman_names))
                    clear(user)
            print(f"  round {r + 1}: corral up {corral_times[-1]:.2f}s, "
                  f"{args.n} podman run -d {podman_times[-1]:.2f}s", flush=True)  # fmt: skip
    finally:
        if corral_times and podman_times:
            c, p = statistics.median(corral_times), statistics.median(podman_times)
            print(f"rootless, {args.n} containers, {len(corral_times)} rounds (medians):")
            print(f"  corral up (daemon + podman service start included): {c:.2f}s")
            print(f"  {args.n} x podman run -d, {INFLIGHT} in flight:        {p:.2f}s")
            print(f"  ratio corral / podman run: {c / p:.2f}x (target <= 1.05x)")
        if user is not None:
            clear(user)
            user.remove()
        remove_view()


if __name__ == "__main__":
    main()
