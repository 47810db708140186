"""A real image registry for tests and benchmarks: Debian's ``docker-registry``
(Distribution 2.8) on 127.0.0.1 with htpasswd auth, its data in a temporary
directory and its access log in a file that is read to count manifest requests.

Standard library only; must not import ``corral``. ``RegistryServer`` starts
it (``start``), stops it (``stop``, also to play an outage, and ``start``
again on the same data), and writes the ``registries.conf`` that marks it
insecure for Podman (``CONTAINERS_REGISTRIES_CONF``).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

USER = "reg-user"
#: The test password: a value that would stand out anywhere it leaked.
PASSWORD = "reg-S3cret-pw-7f1c9e"
_MANIFEST = re.compile(r'"(GET|HEAD) /v2/(?P<repo>[^ ]+)/manifests/(?P<ref>[^ ?"]+)')


class RegistryUnavailable(RuntimeError):
    pass


def free_port(low: int, high: int) -> int:
    for port in range(low, high):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RegistryUnavailable(f"no free port in {low}-{high}")


class RegistryServer:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.access_log = root / "access.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.password_file = root / "password"
        self.registries_conf = root / "registries.conf"
        for tool in ("docker-registry", "htpasswd"):
            if shutil.which(tool) is None:
                raise RegistryUnavailable(
                    f"{tool} not installed (apt-get install docker-registry apache2-utils)"
                )
        (root / "data").mkdir(parents=True, exist_ok=True)
        htpasswd = subprocess.run(
            ["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True
        ).stdout  # argv only here, in the test's own set-up, never in corral's
        (root / "htpasswd").write_text(htpasswd)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(PASSWORD + "\n")
        (root / "config.yml").write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: false\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
            f"auth:\n  htpasswd:\n    realm: reg-realm\n    path: {root / 'htpasswd'}\n"
        )
        self.registries_conf.write_text(
            f'[[registry]]\nlocation = "{self.host}"\ninsecure = true\n'
        )

    def start(self) -> None:
        log = open(self.access_log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(self.root / "config.yml")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RegistryUnavailable(
                    f"docker-registry exited: {self.access_log.read_text()[-2000:]}"
                )
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RegistryUnavailable("docker-registry did not answer within 20 s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_text(self) -> str:
        try:
            return self.access_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def manifest_requests(self, repository: str | None = None) -> int:
        """Manifest requests (GET or HEAD) in the access log so far."""
        return sum(
            1
            for m in _MANIFEST.finditer(self.log_text())
            if repository is None or m.group("repo") == repository
        )

    def requests(self) -> int:
        """Every request to /v2/ the registry logged so far."""
        return (
            self.log_text().count('"GET /v2/')
            + self.log_text().count('"HEAD /v2/')
            + self.log_text().count('"PUT /v2/')
            + self.log_text().count('"POST /v2/')
            + self.log_text().count('"PATCH /v2/')
        )

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def digest_of(self, repository: str, tag: str) -> str:
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}", method="HEAD",
            headers={"Authorization": self.basic(), "Accept": ", ".join((
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.manifest.v1+json",
            ))},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            return str(answer.headers["Docker-Content-Digest"])

    def delete_manifest(self, repository: str, digest: str) -> None:
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{digest}", method="DELETE",
            headers={"Authorization": self.basic()},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202, answer.status
