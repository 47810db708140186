"""Helpers of the status page tests: ports in our range, HTTP calls, a recording
proxy (the whole traffic of a session, to grep), a headless Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

#: This suite's TCP ports (the page's listen addresses, the proxy).
PORTS = range(23000, 24000)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A free TCP port of ours on 127.0.0.1."""
    start = random.randrange(len(PORTS))
    for i in range(len(PORTS)):
        port = PORTS[(start + i) % len(PORTS)]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 23000-23999")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Answer:
    """One request; any status is an answer (no redirect followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    request = urllib.request.Request(url, method=method, headers=headers or {})
    if method == "POST":
        request.data = b""
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers.items()), error.read())


def in_ci() -> bool:
    return os.geteuid() == 0 or os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if in_ci():
            pytest.fail(f"{tool} is missing (scripts/setup-host installs it)", pytrace=False)
        pytest.skip(f"{tool} is missing")
    return found


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium, driven by chromium-driver through selenium."""
    binary = need("chromium")
    driver_path = need("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1400,1000", "--no-proxy-server",
    ):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Recorder:
    """A TCP proxy on one of our ports that keeps every byte both ways."""

    target: int
    port: int = 0
    traffic: bytearray = field(default_factory=bytearray)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> None:
        self.port = free_port()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    self.traffic += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
