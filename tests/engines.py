"""Helpers that bring up real container engines for tests and benchmarks.

Standard library only; must not import ``corral``. See the "This machine (and
CI's)" section of DESIGN.md: nothing runs at boot, so ``dockerd`` is started
here on demand, Podman needs a ``containers.conf``, and no registry is
reachable, so test images are made locally from the host's static busybox.

Usable as a script too (``.ci/run`` uses the first form)::

    python3 tests/engines.py containers-conf
    python3 tests/engines.py dockerd | podman | images
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

DOCKER_SOCKET = "/var/run/docker.sock"
DOCKERD_LOG = Path(tempfile.gettempdir()) / "corral-dockerd.log"
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
BUSYBOX_REF = "localhost/corral-busybox:test"
HOST_BUSYBOX = Path("/bin/busybox")
START_TIMEOUT = 60.0
_ROOTFS_DIRS = [
    *("bin", "etc", "dev", "proc", "sys", "root", "home", "www"),
    *("usr", "usr/bin", "usr/sbin", "sbin", "var", "run"),
]

# (section, key, TOML value) that Podman 4.3 needs on this machine.
_PODMAN_CONF = (
    ("engine", "runtime", '"runc"'),
    ("containers", "default_ulimits", '["nofile=1024:1024", "nproc=4096:4096"]'),
)

# Keeps the Popen of a dockerd we started alive (no ResourceWarning on GC).
_started: list[subprocess.Popen[bytes]] = []


class EngineUnavailable(RuntimeError):
    """An engine could not be reached or started; the message says why."""


def is_root() -> bool:
    return os.geteuid() == 0


def _run(*cmd: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: not found ({exc})")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {timeout:.0f}s")


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    """Cross-process lock, so parallel test processes don't race each other."""
    path = Path(tempfile.gettempdir()) / f"corral-{name}.lock"
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------- docker


def _docker_ok() -> bool:
    return _run("docker", "info", timeout=20).returncode == 0


def _dockerd_alive() -> bool:
    """A dockerd process exists (maybe still starting up)."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(Path("/var/run/docker.pid").read_text().strip())
        os.kill(pid, 0)
        return True
    return False


def ensure_dockerd() -> str:
    """Make sure a Docker daemon answers on the default socket; return its path.

    Starts ``dockerd`` in the background (own session, log in DOCKERD_LOG) when
    ``docker info`` fails and none is starting, then waits up to 60 s.
    Idempotent and safe to call from several modules or processes.
    """
    if _docker_ok():
        return DOCKER_SOCKET
    if not is_root():
        raise EngineUnavailable(
            "docker info fails and dockerd can only be started as root:\n"
            + _run("docker", "info", timeout=20).stderr.strip()
        )
    if shutil.which("dockerd") is None:
        raise EngineUnavailable("dockerd not installed (apt-get install docker.io)")
    proc: subprocess.Popen[bytes] | None = None
    with _lock("dockerd"):
        if _docker_ok():
            return DOCKER_SOCKET
        if not _dockerd_alive():
            log = open(DOCKERD_LOG, "ab")  # noqa: SIM115 - handed to the child
            log.write(f"\n--- corral tests: starting dockerd at {time.ctime()}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                ["dockerd"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
            log.close()
            _started.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if _docker_ok():
                return DOCKER_SOCKET
            if proc is not None and proc.poll() is not None:
                break  # our dockerd exited; its log says why
            time.sleep(0.5)
    if proc is not None and proc.returncode is not None:
        why = f"dockerd exited with code {proc.returncode}"
    else:
        why = f"dockerd did not answer `docker info` within {START_TIMEOUT:.0f}s"
    raise EngineUnavailable(f"{why}; tail of {DOCKERD_LOG}:\n{_tail(DOCKERD_LOG)}")


# --------------------------------------------------------------------- podman


def ensure_containers_conf(path: Path = CONTAINERS_CONF) -> bool:
    """Add the keys Podman 4.3 needs here to containers.conf; True if changed.

    Creates the file when missing. When it exists, only keys that are absent
    are added (inside their existing section, or in a new section at the end);
    keys the admin already set are left alone.
    """
    import tomllib

    text = path.read_text() if path.exists() else ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EngineUnavailable(f"{path} is not valid TOML, not touching it: {exc}") from exc
    lines = text.splitlines()
    changed = False
    for section, key, value in _PODMAN_CONF:
        if key in data.get(section, {}):
            continue
        entry = f"{key} = {value}"
        header = f"[{section}]"
        at = next((i for i, ln in enumerate(lines) if ln.strip() == header), None)
        if at is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [header, entry]
        else:
            lines.insert(at + 1, entry)
        data.setdefault(section, {})[key] = True
        changed = True
    if changed:
        new = "\n".join(lines) + "\n"
        try:
            tomllib.loads(new)  # never write something Podman can't parse
        except tomllib.TOMLDecodeError as exc:
            raise EngineUnavailable(
                f"could not merge {_PODMAN_CONF} into {path} by hand; please add them: {exc}"
            ) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".conf.corral-tmp")
        tmp.write_text(new)
        tmp.replace(path)
    return changed


def ensure_podman() -> None:
    """Make sure ``podman info`` works (as root, fixing containers.conf first)."""
    if shutil.which("podman") is None:
        raise EngineUnavailable("podman not installed (apt-get install podman)")
    if is_root():
        with _lock("containers-conf"):
            ensure_containers_conf()
    res = _run("podman", "info", timeout=60)
    if res.returncode != 0:
        raise EngineUnavailable(f"podman info failed ({res.returncode}):\n{res.stderr.strip()}")


# --------------------------------------------------------------------- images


def _rootfs_tar(out: Path) -> None:
    """Write a tar of a minimal rootfs: static busybox + applet symlinks + users."""
    if not HOST_BUSYBOX.is_file():
        raise EngineUnavailable(f"{HOST_BUSYBOX} missing (apt-get install busybox-static)")
    applets = _run(str(HOST_BUSYBOX), "--list").stdout.split()
    if "sh" not in applets:
        raise EngineUnavailable(f"{HOST_BUSYBOX} --list did not list sh: {applets[:10]}")

    def add(
        name: str,
        *,
        mode: int = 0o755,
        data: bytes | None = None,
        link: str | None = None,
        uid: int = 0,
    ) -> None:
        info = tarfile.TarInfo(name)
        info.mode, info.uid, info.gid, info.mtime = mode, uid, uid, 0
        info.uname = info.gname = "root" if uid == 0 else "app"
        if link is not None:
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
            tar.addfile(info)
        elif data is None:
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        else:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    passwd = (
        "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    group = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in _ROOTFS_DIRS:
            add(d, mode=0o700 if d == "root" else 0o755)
        add("tmp", mode=0o1777)
        add("var/tmp", mode=0o1777)
        add("home/app", uid=1000)
        add("bin/busybox", data=HOST_BUSYBOX.read_bytes())
        for applet in sorted(set(applets) - {"busybox"}):
            add(f"bin/{applet}", link="busybox")
        add("etc/passwd", mode=0o644, data=passwd.encode())
        add("etc/group", mode=0o644, data=group.encode())


def _image_exists(engine: str, ref: str) -> bool:
    return _run(engine, "image", "inspect", ref).returncode == 0


def _import_busybox(cli: tuple[str, ...], ref: str) -> subprocess.CompletedProcess[str]:
    """``CLI import`` of the busybox rootfs as ``ref`` (``cli``: the engine's CLI
    and the options that point it at an engine)."""
    with tempfile.TemporaryDirectory(prefix="corral-rootfs-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        _rootfs_tar(tar)
        return _run(
            *cli, "import", "--change", 'CMD ["/bin/sh"]',
            "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            str(tar), ref, timeout=120,
        )  # fmt: skip


def busybox_image(engine: str, ref: str = BUSYBOX_REF) -> str:
    """Import (once) a local busybox image into ``engine``; return ``ref``.

    The image has only /bin/busybox, a symlink per applet in /bin, /etc/passwd
    and /etc/group with root and ``app`` (uid/gid 1000), /tmp (1777) and
    /www; CMD is /bin/sh. ``engine`` is "docker" or "podman".
    """
    if engine not in ("docker", "podman"):
        raise ValueError(f"engine must be 'docker' or 'podman', not {engine!r}")
    if _image_exists(engine, ref):
        return ref
    with _lock(f"image-{engine}"):
        if _image_exists(engine, ref):
            return ref
        res = _import_busybox((engine,), ref)
        if res.returncode != 0 or not _image_exists(engine, ref):
            raise EngineUnavailable(
                f"{engine} import of {ref} failed ({res.returncode}):\n{res.stderr.strip()}"
            )
    return ref


# ------------------------------------------------------------ isolated dockerd


class IsolatedDockerd:
    """A dockerd of our own beside the host's, to pause, stop and restart at will.

    Its own data root, exec root, pid file and socket under ``root`` (keep it
    short: containerd's sockets live under it), its own managed containerd
    (in a namespace of its own), and its own bridge ``bridge`` on ``subnet``
    made with ``ip link add`` (never ``"bridge": "none"``, which deletes the
    host's ``docker0``). No iptables rules: published ports go through
    docker's userland proxy, so the host's chains are never touched.
    ``cleanup()`` removes everything: the process, its containers' mounts (and
    the bind mount dockerd makes of its data root), the bridge, the files.
    """

    def __init__(self, root: Path, bridge: str, subnet: str) -> None:
        if len(bridge) > 15:
            raise ValueError(f"bridge name {bridge!r} is longer than 15 characters")
        self.root = root
        self.bridge = bridge
        self.subnet = subnet  # "10.210.1" → 10.210.1.1/24
        self.socket = str(root / "docker.sock")
        self.log = root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        r = self.root
        (r / "daemon.json").write_text("{}\n")  # not the host's /etc/docker/daemon.json
        return [
            "dockerd", "--config-file", str(r / "daemon.json"),
            "--data-root", str(r / "data"), "--exec-root", str(r / "exec"),
            "--pidfile", str(r / "docker.pid"), "-H", self.host,
            "--containerd-namespace", f"{self.bridge}-moby",
            "--containerd-plugins-namespace", f"{self.bridge}-plugins",
            "--bridge", self.bridge, "--iptables=false", "--ip-masq=false",
            "--log-level", "warn",
        ]  # fmt: skip

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The docker CLI, pointed at this dockerd."""
        return _run("docker", "-H", self.host, *args, timeout=timeout)

    def answers(self) -> bool:
        return _run("docker", "-H", self.host, "version", timeout=10).returncode == 0

    def start(self) -> None:
        """Start dockerd (its bridge made first, once) and wait until it answers."""
        if not is_root():
            raise EngineUnavailable("an isolated dockerd needs root")
        if shutil.which("dockerd") is None:
            raise EngineUnavailable("dockerd not installed (apt-get install docker.io)")
        self.root.mkdir(parents=True, exist_ok=True)
        if _run("ip", "link", "show", self.bridge).returncode != 0:
            for cmd in (
                ("ip", "link", "add", self.bridge, "type", "bridge"),
                ("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge),
                ("ip", "link", "set", self.bridge, "up"),
            ):
                done = _run(*cmd)
                if done.returncode != 0:
                    raise EngineUnavailable(f"{' '.join(cmd)}: {done.stderr.strip()}")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise EngineUnavailable(f"isolated dockerd did not answer:\n{_tail(self.log)}")
            time.sleep(0.1)

    def pid(self) -> int:
        assert self.process is not None and self.process.poll() is None, "dockerd is not running"
        return self.process.pid

    def pause(self) -> None:
        os.kill(self.pid(), signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, as an init system stops it (it stops its containers), and wait."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def busybox_image(self, ref: str = BUSYBOX_REF) -> str:
        """The busybox test image (see ``busybox_image``) in this dockerd, imported
        here: nothing is asked of the host's engine."""
        done = _import_busybox(("docker", "-H", self.host), ref)
        if done.returncode != 0:
            raise EngineUnavailable(f"importing {ref} into the isolated dockerd: {done.stderr}")
        return ref

    def cleanup(self) -> None:
        """Remove every container, stop dockerd, then unmount, unlink, delete."""
        with contextlib.suppress(Exception):
            self.resume()
            if self.process is not None and self.process.poll() is None:
                ids = self.docker("ps", "-aq", timeout=20).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, timeout=60)
        self.stop()
        for mount in sorted(_mounts_under(self.root), key=len, reverse=True):
            _run("umount", "-l", mount)
        _run("ip", "link", "delete", self.bridge)
        shutil.rmtree(self.root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (from this process's mountinfo)."""
    base = str(root.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == base or point.startswith(base + "/"):
            found.append(point)
    return found


# ---------------------------------------------------------------------- misc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# No proxies: a CI's http_proxy must not swallow requests to 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 10) -> str:
    """GET ``url`` and return the body, retrying any failure until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            with _opener.open(url, timeout=max(0.5, min(remaining, 5.0))) as resp:
                return str(resp.read().decode("utf-8", errors="replace"))
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() + 0.2 >= deadline:
                raise TimeoutError(f"GET {url}: no success within {timeout}s: {exc!r}") from exc
            time.sleep(0.2)


def _main(argv: list[str]) -> int:
    actions: dict[str, Callable[[], None]] = {
        "containers-conf": lambda: print(
            f"{CONTAINERS_CONF}: {'updated' if ensure_containers_conf() else 'already fine'}"
        ),
        "dockerd": lambda: print(ensure_dockerd()),
        "podman": ensure_podman,
        "images": lambda: print(busybox_image("docker"), busybox_image("podman")),
    }
    if len(argv) != 1 or argv[0] not in actions:
        print(f"usage: {Path(sys.argv[0]).name} {{{','.join(actions)}}}", file=sys.stderr)
        return 2
    try:
        actions[argv[0]]()
    except EngineUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
