"""corral's supervisor against supervisord 4.3 on the same 200 /bin/sleep programs.

Measures, in one run: the time to start all 200 (`corral up`, which also
spawns the daemon, against `supervisorctl start all` on a running supervisord),
the daemon's RSS once all run, and the median latency of `corral status`
against `supervisorctl status`. Prints each figure and the ratio corral/supervisord.

    python bench/bench_supervisor.py [--services 200] [--rounds 10] [--corral CMD]

``--corral`` is the command that runs corral (split on spaces), for comparing builds;
by default this interpreter's ``-m corral``, compiled (see installed.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleanup import stop_tree
from installed import compile_corral, corral_argv

TARGETS = {"up": 1.0, "rss": 1.5, "status": 0.7}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def median_time(argv: list[str], rounds: int, env: dict[str, str] | None = None) -> float:
    return statistics.median(timed(argv, env) for _ in range(rounds))


def wait_until(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.05)


def bench_corral(
    tmp: Path, services: int, rounds: int, program: list[str], out: dict[str, float]
) -> None:
    """Figures into ``out`` as they are measured; the daemon and its programs
    are stopped (killed if need be) whatever happens."""
    config = tmp / "corral.toml"
    config.write_text(
        "".join(
            f'[[process]]\nname = "p{i:03d}"\ncommand = ["/bin/sleep", "3600"]\n'
            for i in range(services)
        )
    )
    socket = tmp / "run" / "corral.sock"
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp / "corral-state")}
    base = [*program, "-c", str(config), "--socket", str(socket)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from corral.control.client import request

    pid = None
    try:
        began = time.perf_counter()
        subprocess.run([*base, "up"], env=env, check=True, stdout=subprocess.DEVNULL, timeout=300)
        out["up"] = time.perf_counter() - began
        pid = int(request(str(socket), "ping")["pid"])
        states = [s["state"] for s in request(str(socket), "status")["services"]]
        assert states.count("running") == services, states
        out["rss"] = rss_kib(pid)
        out["status"] = median_time([*base, "status"], rounds, env)
    finally:
        if pid is None:
            with contextlib.suppress(Exception):
                pid = int(request(str(socket), "ping", timeout=2)["pid"])
        if pid is not None:

            def down() -> None:
                subprocess.run(
                    [*base, "down"], env=env, stdout=subprocess.DEVNULL, check=False, timeout=120
                )

            for line in stop_tree(pid, down, grace=60):
                print(f"corral cleanup: {line}", file=sys.stderr)


def bench_supervisord(tmp: Path, services: int, rounds: int, out: dict[str, float]) -> None:
    """As ``bench_corral``, for supervisord."""
    socket = tmp / "supervisor.sock"
    conf = tmp / "supervisord.conf"
    programs = "".join(
        f"[program:p{i:03d}]\ncommand=/bin/sleep 3600\nautostart=false\nstartsecs=0\n"
        f"stdout_logfile={tmp}/sv-logs/p{i:03d}.log\nredirect_stderr=true\n\n"
        for i in range(services)
    )
    (tmp / "sv-logs").mkdir()
    conf.write_text(
        f"[unix_http_server]\nfile={socket}\nchmod=0600\n\n"
        f"[supervisord]\nnodaemon=true\nlogfile={tmp}/supervisord.log\n"
        f"pidfile={tmp}/supervisord.pid\nchildlogdir={tmp}/sv-logs\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{socket}\n\n{programs}"
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ctl = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf)]
    try:
        wait_until(lambda: socket.exists())
        up = timed([*ctl, "start", "all"])
        out["up"] = up
        listing = subprocess.run([*ctl, "status"], capture_output=True, text=True).stdout
        assert listing.count("RUNNING") == services, listing[-500:]
        out["rss"] = rss_kib(daemon.pid)
        out["status"] = median_time([*ctl, "status"], rounds)
    finally:
        # supervisord stops its programs one by one (200 took over 60 s here):
        # give it a bounded while, then kill it and every program it left
        for line in stop_tree(daemon.pid, grace=90, process=daemon):
            print(f"supervisord cleanup: {line}", file=sys.stderr)


def report(services: int, rounds: int, corral: dict[str, float], sv: dict[str, float]) -> None:
    """The figures measured (``-`` for one that was not), ratios where both were."""
    units = {"up": "s", "rss": "MiB", "status": "s"}
    print(f"{services} /bin/sleep services; status: median of {rounds}")
    print(f"{'':14}{'corral':>10}{'supervisord':>13}{'ratio':>8}{'target':>8}")
    for key in ("up", "rss", "status"):
        c, s = corral.get(key), sv.get(key)
        if key == "rss":
            c = c / 1024 if c is not None else None
            s = s / 1024 if s is not None else None
        cells = [f"{v:.3f}" if v is not None else "-" for v in (c, s)]
        if c is not None and s:
            ratio = c / s
            verdict = "ok" if ratio <= TARGETS[key] else "MISSED"
            tail = f"{ratio:8.2f}{'<= ' + str(TARGETS[key]):>8} {verdict}"
        else:
            tail = f"{'-':>8}{'<= ' + str(TARGETS[key]):>8} not measured"
        label = f"{key} ({units[key]})"
        print(f"{label:14}{cells[0]:>10}{cells[1]:>13}{tail}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--corral", default=None, help="The command that runs corral.")
    args = parser.parse_args()
    compile_corral()
    program = shlex.split(args.corral) if args.corral else corral_argv()
    corral: dict[str, float] = {}
    supervisord: dict[str, float] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as directory:
        tmp = Path(directory)
        (tmp / "c").mkdir()
        (tmp / "s").mkdir()
        try:
            bench_corral(tmp / "c", args.services, args.rounds, program, corral)
        except Exception as error:  # still measure the other, and print both
            print(f"corral: {type(error).__name__}: {error}", file=sys.stderr)
            failed = True
        try:
            bench_supervisord(tmp / "s", args.services, args.rounds, supervisord)
        except Exception as error:
            print(f"supervisord: {type(error).__name__}: {error}", file=sys.stderr)
            failed = True
        finally:
            report(args.services, args.rounds, corral, supervisord)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
