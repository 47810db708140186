"""corral's registry work against its baselines, measured in one run (on docker,
or Podman with ``--runtime podman``: corral and the by-hand baseline run there).

A real registry (Debian's docker-registry, htpasswd auth, on 127.0.0.1) is
started for the run and stopped after, whatever happens.

1. ``corral up`` of N services with ``pull = "missing"`` and every image present,
   the registry running: the registry must see 0 requests, and the time must
   be <= 1.02x the same ``up`` with no registry at all (stopped).
2. ``corral lock`` of N images (N repositories) against N sequential
   ``skopeo inspect`` of the same references. Target: <= 0.3x.
3. ``corral update`` of one service to a new digest (image already pushed):
   seconds until the new container serves, against ``docker pull`` +
   ``docker stop`` + ``docker rm`` + ``docker run -d`` by hand (the same with
   ``podman``), both polled the same way from their start. Target: <= 1.2x.

    python bench/bench_registry.py [-n 20] [--rounds 5] [--only up|lock|update]
                                   [--runtime docker|podman]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import busybox_image, ensure_dockerd, ensure_podman
from registry_server import PASSWORD, USER, RegistryServer, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))

from installed import compile_corral, corral_argv

#: This bench's ports (reg16's range): the registry's, then the served container's.
PORTS = (25000, 25100)
LOOP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"


#: Seconds any one command may take: a wedged engine ends the run, not hangs it.
COMMAND_TIMEOUT = 180.0


def sh(*argv: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, check=False, timeout=COMMAND_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        if check:
            raise RuntimeError(f"{' '.join(argv)}: no answer within {COMMAND_TIMEOUT:g}s") from None
        return ""
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


class Bench:
    def __init__(self, root: Path, registry: RegistryServer, runtime: str = "docker") -> None:
        self.root = root
        self.registry = registry
        #: the engine corral and the by-hand baseline run on (images are built and
        #: pushed with docker either way: the registry is the same)
        self.runtime = runtime
        self.docker_config = root / "docker-config"
        self.docker_config.mkdir()
        auth = {"auths": {registry.host: {"auth": registry.basic().split()[1]}}}
        path = self.docker_config / "config.json"
        path.write_text(json.dumps(auth))
        path.chmod(0o600)
        self.env = {
            **os.environ, "DOCKER_CONFIG": str(self.docker_config),
            "REGISTRY_AUTH_FILE": str(path),  # Podman reads the same format
            "CONTAINERS_REGISTRIES_CONF": str(registry.registries_conf),  # insecure for Podman
        }  # fmt: skip
        self.login = (
            f'[[registry]]\nhost = "{registry.host}"\nusername = "{USER}"\n'
            f'password_file = "{registry.password_file}"\n\n'
        )
        self.containers: set[str] = set()
        self.images: set[str] = set()

    def corral(self, directory: Path, *args: str, check: bool = True) -> float:
        began = time.perf_counter()
        done = subprocess.run(
            [*corral_argv(), "-c", str(directory / "corral.toml"),
             "--socket", str(directory / "corral.sock"), *args],
            env={**self.env, "CORRAL_STATE_DIR": str(directory / "state")},
            capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"corral {' '.join(args)}: {done.stderr.strip()}")
        return time.perf_counter() - began

    def publish(self, image_id: str, repository: str, tag: str) -> str:
        """``image_id`` pushed as ``HOST/repository:tag`` (docker CLI, logged in)."""
        reference = f"{self.registry.host}/{repository}:{tag}"
        sh("docker", "tag", image_id, reference)
        self.images.add(reference)
        sh("docker", "push", reference, env=self.env)
        return reference

    def header(self, **top: object) -> str:
        return f'runtime = "{self.runtime}"\n' + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in top.items()
        )

    def cleanup(self) -> None:
        for name in sorted(self.containers):
            sh(self.runtime, "rm", "-f", name, check=False)
        for image in sorted(self.images):
            sh("docker", "rmi", "-f", image, check=False)
        # and what corral (or the baseline) pulled from this run's registry
        for engine in sorted({"docker", self.runtime}):
            listed = sh(engine, "images", "--format", "{{.Repository}} {{.ID}}", check=False)
            for line in listed.splitlines():
                repository, _, image_id = line.partition(" ")
                if repository.startswith(self.registry.host + "/"):
                    sh(engine, "rmi", "-f", image_id, check=False)


def versioned_image(bench: Bench, version: str, cmd: list[str]) -> str:
    """A busybox image that differs from the others by a label (docker build)."""
    context = bench.root / f"image-{version}"
    context.mkdir()
    base = busybox_image("docker")
    (context / "Dockerfile").write_text(
        f"FROM {base}\nLABEL reg.version={version}\nCMD {json.dumps(cmd)}\n"
    )
    tag = f"localhost/reg-bench-{version}:1"
    sh("docker", "build", "-q", "-t", tag, str(context))
    bench.images.add(tag)
    return tag


# -- 1. up with images present --------------------------------------------------


def bench_up(bench: Bench, n: int, rounds: int) -> tuple[float, float, int]:
    image = versioned_image(bench, "up", LOOP)
    references = [bench.publish(image, f"reg-bench-up{i}", "1") for i in range(n)]
    if bench.runtime != "docker":  # every image present on the engine that runs them
        for reference in references:
            sh(bench.runtime, "pull", "-q", reference, env=bench.env)
    times: dict[str, list[float]] = {"registry": [], "none": []}
    requests = 0
    order = random.Random(3)
    for r in range(rounds):
        keys = list(times)
        order.shuffle(keys)
        for key in keys:
            directory = bench.root / f"up-{key}-{r}"
            directory.mkdir()
            tag = uuid.uuid4().hex[:6]
            names = [f"reg-bu{tag}{i}" for i in range(n)]
            bench.containers.update(names)
            body = "".join(
                f'[[container]]\nprovision = "{name}"\nimage = "{ref}"\npull = "missing"\n'
                f"command = {json.dumps(LOOP)}\nstop_timeout = 1\n\n"
                for name, ref in zip(names, references, strict=True)
            )
            (directory / "corral.toml").write_text(bench.header() + bench.login + body)
            if key == "none":
                bench.registry.stop()
            try:
                os.sync()
                time.sleep(0.5)
                seen = bench.registry.requests()
                times[key].append(bench.corral(directory, "up"))
                if key == "registry":
                    requests += bench.registry.requests() - seen
            finally:
                bench.corral(directory, "down", check=False)
                if key == "none":
                    bench.registry.start()
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    return statistics.median(times["registry"]), statistics.median(times["none"]), requests


# -- 2. lock ---------------------------------------------------------------------


def bench_lock(bench: Bench, n: int, rounds: int) -> tuple[float, float]:
    image = versioned_image(bench, "lock", LOOP)
    references = [bench.publish(image, f"reg-bench-lock{i}", "1") for i in range(n)]
    directory = bench.root / "lock"
    directory.mkdir()
    body = "".join(
        f'[[container]]\nprovision = "reg-bl{i}"\nimage = "{ref}"\n\n'
        for i, ref in enumerate(references)
    )
    (directory / "corral.toml").write_text(bench.header() + bench.login + body)
    authfile = bench.docker_config / "config.json"
    corral_times: list[float] = []
    skopeo_times: list[float] = []
    cpu: dict[str, list[float]] = {"corral": [], "skopeo": []}
    for r in range(rounds):
        before = _children_cpu()
        corral_times.append(bench.corral(directory, "lock"))
        cpu["corral"].append(_children_cpu() - before)
        before = _children_cpu()
        began = time.perf_counter()
        for ref in references:
            sh("skopeo", "inspect", "--tls-verify=false", "--authfile", str(authfile),
               f"docker://{ref}")  # fmt: skip
        skopeo_times.append(time.perf_counter() - began)
        cpu["skopeo"].append(_children_cpu() - before)
        print(f"  round {r + 1}: corral lock {corral_times[-1]:.3f}s "
              f"(cpu {cpu['corral'][-1]:.3f}s), {n} skopeo inspect {skopeo_times[-1]:.3f}s "
              f"(cpu {cpu['skopeo'][-1]:.3f}s)")  # fmt: skip
    lock = (directory / "corral.lock").read_text()
    assert lock.count("[[image]]") == n, lock
    # CPU seconds do not grow with the machine's load as wall time does: on a
    # shared 2-CPU machine they say what the wall ratio would be on a quiet one
    print(f"  cpu: corral lock {statistics.median(cpu['corral']):.3f}s, "
          f"{n} skopeo inspect {statistics.median(cpu['skopeo']):.3f}s")  # fmt: skip
    return statistics.median(corral_times), statistics.median(skopeo_times)


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


# -- 3. update -------------------------------------------------------------------


def _serves(url: str, text: str, deadline: float) -> float:
    while time.perf_counter() < deadline:
        try:
            # short: a request caught by the old container's end must not hang the clock
            with urllib.request.urlopen(url, timeout=0.1) as answer:
                if text in answer.read().decode():
                    return time.perf_counter()
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} never served {text!r}")


def _polled_while(work: Callable[[], object], url: str, text: str, began: float) -> float:
    """Seconds from ``began`` until ``url`` serves ``text``, polled from ``began`` on
    while ``work`` runs (in a thread) — the same way for corral and by hand. A
    poll that comes while the old container goes and the new one's port comes
    up costs both sides the same: docker-proxy, already listening, dials a
    container whose network is not there yet, and the kernel's neighbour
    lookup (ARP, retried after 1 s) holds every dial for ~1 s; polled only
    after ``docker run -d`` returned, the hand's side never met it, so the
    ratio compared a stall against none (it was 2.28x)."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            failed.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        return _serves(url, text, began + 120) - began
    finally:
        worker.join()
        if failed:
            raise failed[0]


def _retag(bench: Bench, repository: str, source: str, tag: str) -> None:
    """Point ``repository:tag`` at the manifest of ``repository:source`` (registry API)."""
    base = f"http://{bench.registry.host}/v2/{repository}/manifests"
    auth = {"Authorization": bench.registry.basic(), "Accept": ACCEPT}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/{source}", headers=auth)) as got:
        manifest = got.read()
        kind = got.headers["Content-Type"]
    put = urllib.request.Request(f"{base}/{tag}", data=manifest, method="PUT",
                                 headers={**auth, "Content-Type": kind})  # fmt: skip
    urllib.request.urlopen(put).close()


def bench_update(bench: Bench, rounds: int) -> tuple[float, float]:
    port = free_port(PORTS[0] + 1, PORTS[1])
    repository = "reg-bench-web"
    for version in ("a", "b"):
        cmd = ["sh", "-c", f"mkdir -p /www; echo serving-{version} > /www/index.html; "
               "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]  # fmt: skip
        image = versioned_image(bench, f"web{version}", cmd)
        bench.publish(image, repository, version)
        sh("docker", "rmi", image)  # the engine has the version only from the registry
        bench.images.discard(image)
    reference = f"{bench.registry.host}/{repository}:1"
    url = f"http://127.0.0.1:{port}/index.html"
    directory = bench.root / "update"
    directory.mkdir()
    (directory / "corral.toml").write_text(
        bench.header(update_settle=1.0) + bench.login
        + f'[[container]]\nprovision = "reg-bench-upd"\nimage = "{reference}"\n'
        f'ports = ["127.0.0.1:{port}:8080"]\nstop_timeout = 10\n'
    )  # fmt: skip
    bench.containers.update({"reg-bench-upd", "reg-bench-hand"})
    corral_times: list[float] = []
    hand_times: list[float] = []
    current = "a"
    _retag(bench, repository, current, "1")
    bench.corral(directory, "lock")
    bench.corral(directory, "up")
    try:
        for r in range(rounds):
            target = "b" if current == "a" else "a"
            # corral: the tag moved; `corral update` until the new one serves
            _retag(bench, repository, target, "1")
            time.sleep(0.5)
            began = time.perf_counter()
            holder: dict[str, float] = {}

            def run_update(into: dict[str, float] = holder) -> None:
                into["t"] = bench.corral(directory, "update")

            corral_times.append(_polled_while(run_update, url, f"serving-{target}", began))
            bench.corral(directory, "down")  # the port, for the hand-made one
            # by hand: the tag moved back; pull, stop, rm, run
            sh(bench.runtime, "pull", "-q", reference, env=bench.env)
            sh(bench.runtime, "run", "-d", "--name", "reg-bench-hand", "-p",
               f"127.0.0.1:{port}:8080", reference)  # fmt: skip
            _serves(url, f"serving-{target}", time.perf_counter() + 30)
            _retag(bench, repository, current, "1")
            time.sleep(0.5)
            began = time.perf_counter()

            def by_hand() -> None:
                sh(bench.runtime, "pull", "-q", reference, env=bench.env)
                sh(bench.runtime, "stop", "reg-bench-hand")
                sh(bench.runtime, "rm", "reg-bench-hand")
                sh(bench.runtime, "run", "-d", "--name", "reg-bench-hand", "-p",
                   f"127.0.0.1:{port}:8080", reference)  # fmt: skip

            hand_times.append(_polled_while(by_hand, url, f"serving-{current}", began))
            sh(bench.runtime, "rm", "-f", "reg-bench-hand")
            took = holder.get("t", 0.0)
            print(f"  round {r + 1}: corral update {corral_times[-1]:.3f}s "
                  f"(command {took:.2f}s), by hand {hand_times[-1]:.3f}s")  # fmt: skip
            bench.corral(directory, "up")  # on the lock's digest: `current`'s successor
            current = target
    finally:
        bench.corral(directory, "down", check=False)
    return statistics.median(corral_times), statistics.median(hand_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="services for `up`, images for `lock`")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["up", "lock", "update"], action="append")
    parser.add_argument("--runtime", choices=["docker", "podman"], default="docker")
    args = parser.parse_args()
    # SIGTERM (a timeout, a person) ends the run through the clean-up below
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(f"stopped by signal {signo}"))
    for tool in ("docker-registry", "htpasswd", "skopeo"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install docker-registry apache2-utils skopeo")
    ensure_dockerd()  # builds and pushes the test images, on either runtime
    if args.runtime == "podman":
        ensure_podman()
    compile_corral()
    only = set(args.only or ["up", "lock", "update"])
    rows: list[tuple[str, float, float, str]] = []
    root = Path(tempfile.mkdtemp(prefix="reg-bench-"))
    registry = RegistryServer(root / "registry", free_port(*PORTS))
    registry.start()
    bench = Bench(root, registry, args.runtime)
    print(f"runtime: {args.runtime}")
    try:
        if "up" in only:
            with_registry, without, requests = bench_up(bench, args.n, args.rounds)
            print(f"up of {args.n}, pull = missing: registry running {with_registry:.3f}s "
                  f"({requests} registry requests), no registry {without:.3f}s")  # fmt: skip
            rows.append(("up, registry running", with_registry, with_registry / without, "<= 1.02"))
            rows.append(("  registry requests", requests, float(requests), "0"))
        if "lock" in only:
            lock, skopeo = bench_lock(bench, args.n, args.rounds)
            print(f"lock of {args.n}: corral {lock:.3f}s, sequential skopeo inspect {skopeo:.3f}s")
            rows.append((f"lock of {args.n} vs skopeo", lock, lock / skopeo, "<= 0.3"))
        if "update" in only:
            update, hand = bench_update(bench, max(3, args.rounds // 2 + 1))
            print(f"update until serving: corral {update:.3f}s, by hand {hand:.3f}s")
            rows.append(("update vs by hand", update, update / hand, "<= 1.2"))
    finally:
        bench.cleanup()
        registry.stop()
        shutil.rmtree(root, ignore_errors=True)
        print(f"\n{'':26}{'value':>10}{'ratio':>8}  target")
        for label, value, ratio, target in rows:
            print(f"{label:26}{value:10.3f}{ratio:8.2f}  {target}")
    _ = PASSWORD  # the registry's login is the test one (tests/registry_server.py)


if __name__ == "__main__":
    main()
