"""``corral export`` of a 200-service configuration to all four targets:
time and peak memory (target: under 1 s and 100 MB for the four together), with
the baseline of the same run: loading the configuration and rendering every
service's run line (``corral show``'s work). Then the golden diff when one
field of one service changes: the changed lines must be exactly that service's.

    python bench/bench_export.py [-n 200] [--rounds 5]

Pure (no engine, nothing started): nothing to clean up but a temporary file.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from corral.config import declared_services, load
from corral.render import service_argv
from corral.render.export import TARGETS, Settings, export

CHANGED = 117  # the service whose memory changes in the diff measure


def config_text(n: int, changed: int | None = None) -> str:
    """``n`` containers in a chain of requirements, each with ports, env,
    volumes, limits, a health check and respawn; ``changed`` has another memory."""
    parts = ['runtime = "docker"\n']
    for i in range(n):
        memory = "128m" if i == changed else "64m"
        requirement = f'requirement = ["bench-{i - 1}"]\n' if i % 10 else ""
        parts.append(
            f"""
[[container]]
provision = "bench-{i}"
image = "registry.example:5000/team/app-{i % 7}:1.{i}"
command = ["serve", "--port", "8080", "--id", "{i}"]
environment = ["ID={i}", "MODE=bench", "TOKEN"]
host_environment = [["TOKEN", "secret-{i}"]]
ports = ["{20000 + i}:8080"]
volumes = ["/srv/bench/{i}:/data", "bench-cache-{i % 5}:/cache:ro"]
memory = "{memory}"
cpus = 0.5
pids_limit = 100
health_cmd = "wget -q -O /dev/null http://127.0.0.1:8080/health"
health_interval = 5
respawn = true
stop_timeout = 5
labels = {{ "org.example.id" = "{i}" }}
{requirement}"""
        )
    return "".join(parts)


def export_all(path: str) -> dict[str, dict[str, str]]:
    config = load(path).config
    settings = Settings(runtime_path="/usr/bin/docker")
    return {target: export(config, target, settings).files for target in TARGETS}


def baseline(path: str) -> int:
    config = load(path).config
    return sum(len(service_argv(config, s)) for s in declared_services(config))


def timed(function: object, path: str, rounds: int) -> tuple[float, float]:
    """(median seconds, peak traced MiB) of ``function(path)`` over ``rounds``."""
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        function(path)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    function(path)  # type: ignore[operator]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / (1 << 20)


def diff_lines(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Per target: changed files, changed lines, and whether every changed line
    belongs to the changed service."""
    name = f"bench-{CHANGED}"
    out: dict[str, Any] = {}
    for target in TARGETS:
        files = sorted(set(old[target]) | set(new[target]))
        changed_files = [f for f in files if old[target].get(f) != new[target].get(f)]
        lines = 0
        only_that_service = True
        for file in changed_files:
            a = old[target].get(file, "").splitlines()
            b = new[target].get(file, "").splitlines()
            delta = [d for d in difflib.unified_diff(a, b, n=0, lineterm="")
                     if d[:1] in "+-" and not d.startswith(("+++", "---"))]  # fmt: skip
            lines += len(delta)
            if target == "compose":
                only_that_service &= _in_service_block(b, name, delta)
            else:
                only_that_service &= name in file
        out[target] = {"files": changed_files, "lines": lines, "only": only_that_service}
    return out


def _in_service_block(lines: list[str], name: str, delta: list[str]) -> bool:
    """Whether each changed line of the compose file lies in service ``name``'s block."""
    start = lines.index(f"  {name}:")

    def next_key(line: str) -> bool:
        return line.startswith("  ") and not line.startswith(("   ", "  #"))

    end = next((i for i in range(start + 1, len(lines)) if next_key(lines[i])), len(lines))
    block = set(lines[start:end])
    return all(d[1:] in block or d.startswith("-") for d in delta)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    handle, path = tempfile.mkstemp(prefix="bench-export-", suffix=".toml")
    changed_path = path.replace(".toml", "-changed.toml")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(config_text(args.n))
        Path(changed_path).write_text(config_text(args.n, CHANGED))
        base_s, base_mib = timed(baseline, path, args.rounds)
        export_s, export_mib = timed(export_all, path, args.rounds)
        per_target = {}
        config = load(path).config
        for target in TARGETS:
            start = time.perf_counter()
            export(config, target, Settings(runtime_path="/usr/bin/docker"))
            per_target[target] = time.perf_counter() - start
        result = diff_lines(export_all(path), export_all(changed_path))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"services: {args.n}, rounds: {args.rounds} (medians)")
        print(f"baseline (load + every run line): {base_s:.3f} s, peak {base_mib:.1f} MiB traced")
        print(f"export to all four targets (load included): {export_s:.3f} s, "
              f"peak {export_mib:.1f} MiB traced; process max RSS {rss:.0f} MiB")  # fmt: skip
        print(f"  ratio to baseline: time {export_s / base_s:.2f}x, "
              f"memory {export_mib / base_mib:.2f}x")  # fmt: skip
        print("  render alone: " + ", ".join(f"{t} {s:.3f} s" for t, s in per_target.items()))
        within = export_s < 1.0 and export_mib < 100
        print(f"  target (< 1 s and < 100 MB together): {'met' if within else 'MISSED'}")
        print(f"one field of one service changed (bench-{CHANGED}.memory):")
        all_only = True
        for target, found in result.items():
            all_only &= found["only"] and found["lines"] > 0
            print(f"  {target}: {found['lines']} changed lines in {len(found['files'])} file(s) "
                  f"{found['files']}; only that service's: {found['only']}")  # fmt: skip
        return 0 if within and all_only else 1
    finally:
        for leftover in (path, changed_path):
            Path(leftover).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
