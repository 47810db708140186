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
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def bench_corral(tmp: Path, services: int, rounds: int, program: list[str]) -> dict[str, float]:
    config = tmp / "corral.toml"
    config.write_text(
        "".join(
            f'[[process]]\nname = "p{i:03d}"\ncommand = ["/bin/sleep", "3600"]\n'
            for i in range(services)
        )
    )
    socket = tmp / "corral.sock"
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp / "corral-state")}
    base = [*program, "-c", str(config), "--socket", str(socket)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from corral.control.client import request

    try:
        up = timed([*base, "up"], env)
        pid = int(request(str(socket), "ping")["pid"])
        states = [s["state"] for s in request(str(socket), "status")["services"]]
        assert states.count("running") == services, states
        rss = rss_kib(pid)
        status = median_time([*base, "status"], rounds, env)
    finally:
        subprocess.run([*base, "down"], env=env, stdout=subprocess.DEVNULL, check=False)
    return {"up": up, "rss": rss, "status": status}


def bench_supervisord(tmp: Path, services: int, rounds: int) -> dict[str, float]:
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
        listing = subprocess.run([*ctl, "status"], capture_output=True, text=True).stdout
        assert listing.count("RUNNING") == services, listing[-500:]
        rss = rss_kib(daemon.pid)
        status = median_time([*ctl, "status"], rounds)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    return {"up": up, "rss": rss, "status": status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--corral", default=None, help="The command that runs corral.")
    args = parser.parse_args()
    compile_corral()
    program = shlex.split(args.corral) if args.corral else corral_argv()
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as directory:
        tmp = Path(directory)
        (tmp / "c").mkdir()
        (tmp / "s").mkdir()
        corral = bench_corral(tmp / "c", args.services, args.rounds, program)
        supervisord = bench_supervisord(tmp / "s", args.services, args.rounds)
    units = {"up": "s", "rss": "MiB", "status": "s"}
    print(f"{args.services} /bin/sleep services; status: median of {args.rounds}")
    print(f"{'':8}{'corral':>10}{'supervisord':>13}{'ratio':>8}{'target':>8}")
    for key in ("up", "rss", "status"):
        c, s = corral[key], supervisord[key]
        if key == "rss":
            c, s = c / 1024, s / 1024
        ratio = c / s
        verdict = "ok" if ratio <= TARGETS[key] else "MISSED"
        print(
            f"{key + ' (' + units[key] + ')':8}{c:10.3f}{s:13.3f}{ratio:8.2f}"
            f"{'<= ' + str(TARGETS[key]):>8} {verdict}"
        )


if __name__ == "__main__":
    main()
