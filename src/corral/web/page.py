"""The daemon's live status page: routes, the token, the live updates.

Served by ``corral.web.http`` in the daemon's own loop. What it shows comes
from the supervisor (``status``, the declarations) and what changes is
pushed by the supervisor's one change broadcast (``supervisor.changes``):
``/api/events`` sends a changed service's row, rendered by the same
function as the first load. See ``auth`` for who may use it.

Paths: ``/`` the table and the graph; ``/service/NAME`` one service (its
declaration with secrets as ``***``, details, restart history, live log);
``/api/status`` (``corral status --json``'s JSON), ``/api/events`` and
``/api/services/NAME/log`` (server-sent events), ``POST
/api/services/NAME/{start,stop,restart}``, ``/metrics``, and ``/healthz``
(no token: ``ok``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

from corral.config.http import Http, split_listen
from corral.errors import CorralError
from corral.render.declaration import redacted
from corral.supervisor.supervisor import Supervisor
from corral.web import pages, svg
from corral.web.auth import COOKIE, URL_FILE, authorized, ensure_token, same_origin
from corral.web.http import HttpServer, Request, Response, Stream
from corral.web.logs import follow_log
from corral.web.metrics import CONTENT_TYPE, Metrics

#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE = 15.0
HTML = "text/html; charset=utf-8"
JSON = "application/json"
OPS = ("start", "stop", "restart")
SECURITY_HEADERS = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
    ),
    ("cache-control", "no-store"),
]


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode(), JSON)


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


class StatusPage:
    def __init__(self, supervisor: Supervisor, http: Http, state_dir: str) -> None:
        self.supervisor = supervisor
        self.http = http
        self.state_dir = state_dir
        self.token = ensure_token(state_dir)
        self.metrics = Metrics(supervisor)
        self.tls = http.tls_cert is not None
        self.server = HttpServer(self.handle, lambda: SECURITY_HEADERS)

    @property
    def url(self) -> str:
        host, _ = split_listen(self.http.listen)
        if host in ("0.0.0.0", "::"):  # every address: the one others reach it by
            host = socket.getfqdn()
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{self.server.port}/"

    async def open(self) -> None:
        host, port = split_listen(self.http.listen)
        context = None
        if self.http.tls_cert is not None and self.http.tls_key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                context.load_cert_chain(self.http.tls_cert, self.http.tls_key)
            except (OSError, ssl.SSLError) as error:
                raise CorralError(
                    f"[http] tls_cert {self.http.tls_cert} / tls_key {self.http.tls_key}: {error}"
                ) from None
        try:
            await self.server.open(host, port, context)
        except OSError as error:
            raise CorralError(f"[http] cannot listen on {self.http.listen}: {error}") from None
        path = os.path.join(self.state_dir, URL_FILE)
        with open(path + ".new", "w") as file:
            file.write(self.url + "\n")
        os.replace(path + ".new", path)

    async def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.state_dir, URL_FILE))
        await self.server.close()

    # -- routing ---------------------------------------------------------------

    async def handle(self, request: Request) -> Response | Stream:
        path = request.path
        if path == "/healthz":
            return Response(200, b"ok\n")
        public = path == "/metrics" and self.http.metrics_public and request.method == "GET"
        if not public and not authorized(request, self.token):
            return Response(
                401,
                b"401: this page needs its token: open the address `corral dashboard` prints\n",
                headers=[("www-authenticate", 'Bearer realm="corral"')],
            )
        if request.method == "POST":
            if not same_origin(request, self._origins(request)):
                return Response(403, b"403: a change must come from the page itself\n")
            return await self._post(request, path)
        if request.method != "GET":
            return Response(405, b"405: GET, or POST for a change\n", headers=[("allow", "GET")])
        if "token" in request.query:
            return self._set_cookie(request)
        return await self._get(request, path)

    def _origins(self, request: Request) -> set[str]:
        scheme = "https" if self.tls else "http"
        return {f"{scheme}://{request.headers.get('host', '')}".lower()}

    def _set_cookie(self, request: Request) -> Response:
        rest = {k: v for k, v in request.query.items() if k != "token"}
        where = request.path + (f"?{urlencode(rest)}" if rest else "")
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        if self.tls:
            cookie += "; Secure"
        return Response(303, b"", headers=[("location", where), ("set-cookie", cookie)])

    async def _get(self, request: Request, path: str) -> Response | Stream:
        parts = path.strip("/").split("/")
        if path == "/":
            return Response(200, self._overview(request).encode(), HTML)
        if path == "/page.js":
            return Response(200, pages.SCRIPT.encode(), "text/javascript; charset=utf-8")
        if path == "/page.css":
            return Response(200, pages.STYLE.encode(), "text/css; charset=utf-8")
        if path == "/api/status":
            return _json(self.supervisor.status())
        if path == "/api/events":
            try:
                since = float(request.query.get("since", "0") or 0)
            except ValueError:
                return Response(400, b"400: since is a time in seconds\n")
            return Stream(self._events(_host(request), since))
        if path == "/metrics":
            return Response(200, self.metrics.text(), CONTENT_TYPE)
        if path == "/graph.svg":
            return Response(200, self._graph().encode(), "image/svg+xml")
        if len(parts) == 2 and parts[0] == "service" and parts[1] in self.supervisor.owners:
            return Response(200, (await self._service(request, parts[1])).encode(), HTML)
        if (
            len(parts) == 4
            and parts[:2] == ["api", "services"]
            and parts[3] == "log"
            and parts[2] in self.supervisor.owners
        ):
            return Stream(self._log(parts[2]))
        return Response(404, b"404: no such page\n")

    async def _post(self, request: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["api", "services"] or parts[3] not in OPS:
            return _json({"ok": False, "error": "no such change"}, 404)
        name, op = parts[2], parts[3]
        try:
            self.supervisor.owner(name)
            await getattr(self.supervisor, op)(name)
        except CorralError as error:
            return _json({"ok": False, "error": str(error)}, 409)
        return _json({"ok": True})

    # -- what is shown ---------------------------------------------------------

    def _ports(self, name: str) -> tuple[str, ...]:
        service = self.supervisor.services.get(name)
        ports: tuple[str, ...] = getattr(service.record, "ports", ()) if service else ()
        return ports

    def _graph(self) -> str:
        ordered = self.supervisor.ordered()
        requirements = {s.name: list(s.requirement) for s in ordered}
        states = {s.name: self.supervisor.owners[s.name].state.status for s in ordered}
        return svg.graph_svg(requirements, states)

    def _overview(self, request: Request) -> str:
        host = _host(request)
        views = self.supervisor.status()
        rows = [pages.row(v, self._ports(str(v["name"])), host) for v in views]
        counts = Counter(str(v["state"]) for v in views)
        return pages.overview(rows, self._graph(), counts, time.time())

    async def _service(self, request: Request, name: str) -> str:
        try:  # the command-line action's text: argv never holds a secret value
            command = await self.supervisor.action(name, "command-line")
        except CorralError as error:
            command = f"({error})"
        view = self.supervisor.owner(name).view()
        service = self.supervisor.services[name]
        now = time.time()
        history = self.supervisor.changes.history(name, now - 3600)
        restarts = [t.when for t in history if t.respawn]
        exits = [t.when for t in history if t.after == "stopped" and t.before != "stopping"]
        chart = svg.restart_chart(restarts, exits, now)
        row = pages.row(view, self._ports(name), _host(request))
        declaration = {"name": name, "kind": service.kind, **redacted(service.record)}
        return pages.service_page(view, row, declaration, chart, command, now)

    def _change(self, name: str, host: str) -> bytes:
        owner = self.supervisor.owners.get(name)
        if owner is None:
            return _event("service", {"name": name, "html": None})
        view = owner.view()
        return _event(
            "service",
            {
                "name": name,
                "state": view["state"],
                "failed": pages.failed(view),
                "html": pages.row(view, self._ports(name), host),
                "detail": json.dumps(view, indent=2),
            },
        )

    async def _events(self, host: str, since: float) -> AsyncIterator[bytes]:
        with self.supervisor.changes.subscribe() as subscription:
            yield b"retry: 1000\n\n"
            # what changed between the page's rendering and this stream's start
            missed = [
                n for n, o in self.supervisor.owners.items() if since and o.state.since >= since
            ]
            if missed:
                yield b"".join(self._change(n, host) for n in missed)
            while True:
                try:
                    names = await asyncio.wait_for(subscription.next(), KEEPALIVE)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield b"".join(self._change(n, host) for n in sorted(names))

    async def _log(self, name: str) -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        try:
            async for chunk in follow_log(self.supervisor, name):
                yield _event("log", chunk.decode("utf-8", "replace"))
        except CorralError as error:
            yield _event("log", f"[corral: {error}]\n")


def _host(request: Request) -> str:
    return urlsplit("//" + request.headers.get("host", "localhost")).hostname or "localhost"
