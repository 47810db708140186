"""``corral up`` of N containers that each use ten first-class run options — two
networks, an env file, a secret, memory, pids_limit, cpus, ulimits, cap_drop,
read_only and a tmpfs — against the same N started by ``docker run -d`` with
the equivalent flags (the second network by ``docker network connect``, the
secret as a read-only bind of a file), 8 in flight, in one run. Target:
<= 1.05x. Also reports how many of corral's N went through the CLI (target 0:
the API path stays the default for every option).

    python bench/bench_options.py [-n 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import busybox_image, ensure_dockerd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_containers import COMMAND, INFLIGHT, remove_all, sh
from cleanup import corral_down
from installed import compile_corral, corral_argv


def corral_config(image: str, names: list[str], nets: tuple[str, str], tmp: Path) -> Path:
    body = "".join(
        f"""[[container]]
provision = "{n}"
image = "{image}"
command = {json.dumps(COMMAND)}
stop_timeout = 0
networks = ["{nets[0]}", "{nets[1]}"]
env_files = ["{tmp / "app.env"}"]
secrets = [{{ source = "{tmp / "token"}", target = "/run/secrets/token" }}]
memory = "64m"
pids_limit = 64
cpus = 0.5
ulimits = {{ nofile = [1024, 2048] }}
cap_drop = ["ALL"]
read_only = true
tmpfs = ["/scratch"]

"""
        for n in names
    )
    path = tmp / "corral.toml"
    path.write_text('runtime = "docker"\n' + body)
    return path


def docker_runs(image: str, names: list[str], nets: tuple[str, str], tmp: Path) -> float:
    def one(name: str) -> None:
        sh("docker", "run", "-d", "--name", name, "--network", nets[0],
           "--env-file", str(tmp / "app.env"),
           "-v", f"{tmp / 'token'}:/run/secrets/token:ro",
           "--memory", "64m", "--pids-limit", "64", "--cpus", "0.5",
           "--ulimit", "nofile=1024:2048", "--cap-drop", "ALL", "--read-only",
           "--tmpfs", "/scratch", image, *COMMAND)  # fmt: skip
        sh("docker", "network", "connect", nets[1], name)

    began = time.perf_counter()
    with ThreadPoolExecutor(INFLIGHT) as pool:
        list(pool.map(one, names))
    return time.perf_counter() - began


def cli_count(config: Path, env: dict[str, str]) -> int:
    """How many of the declared containers only the CLI could create (their spec's
    ``cli_only``), read with corral's own code, as the daemon decides."""
    program = (
        "import sys\n"
        "from corral.config import load, declared_services, OciContainer\n"
        "from corral.render import container_spec\n"
        "c = load(sys.argv[1]).config\n"
        "print(sum(1 for s in declared_services(c) if isinstance(s.record, OciContainer)\n"
        "          and container_spec(s.record, s.name, c.runtime, {}).cli_only))\n"
    )
    done = subprocess.run([sys.executable, "-c", program, str(config)], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ensure_dockerd()
    compile_corral()
    image = busybox_image("docker")
    tag = uuid.uuid4().hex[:6]
    nets = (f"cbo{tag}front", f"cbo{tag}back")
    corral_times: list[float] = []
    docker_times: list[float] = []
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        # (no quotes or `export`: docker run --env-file reads the file by its own rules)
        (tmp / "app.env").write_text("MODE=bench\n# a comment\nLANG=C.UTF-8\n")
        (tmp / "token").write_text("s3cret-bench\n")
        (tmp / "token").chmod(0o600)
        for net in nets:
            sh("docker", "network", "create", net)
        try:
            for r in range(args.rounds):
                names = [f"cbo{tag}k{r}x{i}" for i in range(args.n)]
                state = tmp / f"state{r}"
                env = {**os.environ, "CORRAL_STATE_DIR": str(state)}
                config = corral_config(image, names, nets, tmp)
                socket = str(tmp / f"corral{r}.sock")
                base = [*corral_argv(), "-c", str(config), "--socket", socket]
                order = ["corral", "docker"] if r % 2 == 0 else ["docker", "corral"]
                for which in order:
                    os.sync()
                    time.sleep(1)
                    if which == "corral":
                        began = time.perf_counter()
                        subprocess.run([*base, "up"], env=env, check=True,
                                       stdout=subprocess.DEVNULL)  # fmt: skip
                        corral_times.append(time.perf_counter() - began)
                        for line in corral_down(base, env, str(state)):
                            print(f"corral cleanup: {line}", file=sys.stderr)
                    else:
                        runs = [f"cbo{tag}d{r}x{i}" for i in range(args.n)]
                        docker_times.append(docker_runs(image, runs, nets, tmp))
                        remove_all(f"cbo{tag}d{r}x")
                print(f"  round {r + 1}: corral {corral_times[-1]:.2f}s, "
                      f"docker run -d {docker_times[-1]:.2f}s", flush=True)  # fmt: skip
            through_cli = cli_count(config, env)
        finally:
            for r in range(args.rounds):  # a daemon a failure left running
                state = tmp / f"state{r}"
                base = [*corral_argv(), "-c", str(tmp / "corral.toml"), "--socket",
                        str(tmp / f"corral{r}.sock")]  # fmt: skip
                corral_down(base, {**os.environ, "CORRAL_STATE_DIR": str(state)}, str(state))
            remove_all(f"cbo{tag}")
            for net in nets:
                sh("docker", "network", "rm", net, check=False)
    corral_s, docker_s = statistics.median(corral_times), statistics.median(docker_times)
    print(f"\nup of {args.n} with ten run options each (median of {args.rounds})")
    print(f"  corral up        {corral_s:8.2f} s")
    print(f"  docker run -d    {docker_s:8.2f} s  (8 in flight, + network connect)")
    print(f"  ratio            {corral_s / docker_s:8.2f}    target <= 1.05")
    print(f"  through the CLI  {through_cli:8d}    target 0")


if __name__ == "__main__":
    main()
