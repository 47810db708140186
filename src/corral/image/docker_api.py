"""``docker import`` of a layer tar, either through Docker's Engine API on its Unix
socket or through the ``docker`` CLI (``Importer``).

``import_then_load`` streams an image's base layer — often most of its bytes —
into docker's layer store this way. Through the CLI every byte is copied once
more, from its standard input to the socket, by a process of its own: about
1.5 s of CPU for 1 GB here, on a 2-CPU machine where dockerd's unpacking of the
layer is already the bottleneck. So when the CLI would talk to a Unix socket
(``DOCKER_HOST`` unset or ``unix://``), corral sends the request itself, with
the standard library's HTTP client on that socket (``docker_importer``).

The request carries the tar's exact size (``Content-Length``): a stream cut
short (a source file changed, see ``archive.stream_layer``) is an unexpected
end of body to dockerd, which then registers nothing.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import BinaryIO, Protocol

from corral.errors import ImageError
from corral.paths import DOCKER_SOCKET

#: Writes a command's standard input, or a request's body.
Feed = Callable[[BinaryIO], object]
#: The buffer between the layer's writer and the socket.
BODY_BUFFER = 1 << 20


class Runner(Protocol):
    """Runs an engine CLI command, ``feed`` writing its standard input; its stdout,
    or ``CommandError``."""

    def __call__(self, argv: Sequence[str], feed: Feed | None = None) -> str: ...


class Importer(Protocol):
    """What ``import_then_load`` needs of docker besides ``load``."""

    def import_layer(self, size: int, feed: Feed) -> str:
        """Import the layer tar of ``size`` bytes that ``feed`` writes; the new image's ID."""
        ...

    def base_layer(self, image_id: str) -> str:
        """The diff ID of the first layer of image ``image_id``."""
        ...

    def remove(self, image_id: str) -> None:
        """Remove image ``image_id``, or raise ``CorralError``."""
        ...


def normal_id(value: str) -> str:
    value = value.strip()
    return value if value.startswith("sha256:") else f"sha256:{value}"


class CliImporter:
    """``Importer`` through the ``docker`` CLI (and ``runner``)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def import_layer(self, size: int, feed: Feed) -> str:
        out = self.runner(["docker", "import", "-"], feed=feed).strip()
        if not out:
            raise ImageError("docker import said nothing about its image")
        return normal_id(out.splitlines()[-1])

    def base_layer(self, image_id: str) -> str:
        argv = ["docker", "image", "inspect", "--format", "{{index .RootFS.Layers 0}}", image_id]
        return self.runner(argv).strip()

    def remove(self, image_id: str) -> None:
        self.runner(["docker", "rmi", image_id])


def docker_socket(environ: Mapping[str, str] | None = None) -> str | None:
    """The Unix socket the ``docker`` CLI talks to, or None when ``DOCKER_HOST``
    names another kind of address (tcp://, ssh://)."""
    host = (os.environ if environ is None else environ).get("DOCKER_HOST", "")
    if not host:
        return DOCKER_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return None


class _UnixConnection(http.client.HTTPConnection):
    """``http.client`` on a Unix socket (the host name is only for the Host header)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _message(body: bytes) -> str:
    """The error an Engine API response body carries, or the body itself."""
    text = body.decode(errors="replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return text
    return str(document.get("message", text)) if isinstance(document, dict) else text


def progress_result(body: bytes) -> str:
    """The last ``status`` of a JSON progress stream (``/images/create``), or
    ``ImageError`` with the ``error`` it ended with."""
    last = ""
    for line in body.decode(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise ImageError(f"docker import: unreadable answer {line[:200]!r}") from exc
        if event.get("error"):
            raise ImageError(f"docker import: {event['error']}")
        last = str(event.get("status", last))
    return last


class ApiImporter:
    """``Importer`` through the Engine API on the Unix socket ``path``."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def _where(self) -> str:
        return f"docker at {self.path}"

    def _request(self, method: str, target: str) -> tuple[int, bytes]:
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request(method, target)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ImageError(f"{self._where()}: {method} {target}: {exc}") from exc
        finally:
            conn.close()

    def import_layer(self, size: int, feed: Feed) -> str:
        conn = _UnixConnection(self.path, self.timeout)
        try:
            try:
                conn.putrequest("POST", "/images/create?fromSrc=-")
                conn.putheader("Content-Type", "application/x-tar")
                conn.putheader("Content-Length", str(size))
                conn.endheaders()
                assert conn.sock is not None
                with conn.sock.makefile("wb", buffering=BODY_BUFFER) as body:
                    feed(body)  # type: ignore[arg-type]
            except OSError as exc:
                # dockerd may have answered early (and closed): its answer says why
                why = self._early_answer(conn) or exc
                raise ImageError(f"{self._where()}: import: {why}") from exc
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:
            # e.g. a connection dockerd closed without an answer (RemoteDisconnected)
            raise ImageError(f"{self._where()}: import: {exc!r}") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise ImageError(f"{self._where()}: import: {_message(answer)}")
        image_id = progress_result(answer)
        if not image_id.startswith("sha256:"):
            raise ImageError(f"{self._where()}: import said nothing about its image")
        return image_id

    @staticmethod
    def _early_answer(conn: _UnixConnection) -> str:
        if conn.sock is None:  # never connected
            return ""
        try:
            response = conn.getresponse()
            return _message(response.read())
        except (OSError, http.client.HTTPException):
            return ""

    def base_layer(self, image_id: str) -> str:
        status, body = self._request("GET", f"/images/{urllib.parse.quote(image_id)}/json")
        if status != 200:
            raise ImageError(f"{self._where()}: inspect {image_id}: {_message(body)}")
        layers = (json.loads(body).get("RootFS") or {}).get("Layers") or []
        return str(layers[0]) if layers else ""

    def remove(self, image_id: str) -> None:
        status, body = self._request("DELETE", f"/images/{urllib.parse.quote(image_id)}")
        if status not in (200, 404):
            raise ImageError(f"{self._where()}: remove {image_id}: {_message(body)}")


def docker_importer(
    runner: Runner, timeout: float, environ: Mapping[str, str] | None = None
) -> Importer:
    """The API importer on the CLI's Unix socket, else the CLI (through ``runner``)."""
    path = docker_socket(environ)
    return ApiImporter(path, timeout) if path is not None else CliImporter(runner)
