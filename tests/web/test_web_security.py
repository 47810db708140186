"""The page is safe by default: loopback only, the token on every request but
the health probe, changes by POST from the page's own origin, TLS for remote."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conftest import PageCorral
from sv_helpers import wait_for
from webhelp import call, free_port, need

PROCESSES = """
[[process]]
name = "web-sec-db"
command = ["/bin/sh", "-c", "echo db up; exec sleep 1000"]

[[process]]
name = "web-sec-app"
command = ["/bin/sh", "-c", "echo app up; exec sleep 1000"]
requirement = ["web-sec-db"]
"""

#: Every path the page serves (and one it does not).
PATHS = [
    "/", "/page.js", "/page.css", "/graph.svg", "/api/status", "/api/events", "/metrics",
    "/service/web-sec-db", "/api/services/web-sec-db/log", "/no/such/page",
]  # fmt: skip
POSTS = [f"/api/services/web-sec-db/{op}" for op in ("start", "stop", "restart")]


def serve(corral: PageCorral, extra: str = "") -> None:
    corral.write(f'[http]\nlisten = "127.0.0.1:{corral.port}"\n{extra}\n{PROCESSES}')
    corral.run("up", timeout=60)
    corral.wait_page()


def test_no_token_is_401_everywhere_but_the_health_probe(page_corral: PageCorral) -> None:
    serve(page_corral)
    base = page_corral.base
    for path in PATHS:
        assert call(base + path).status == 401, path
        wrong = call(base + path, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status == 401, path
        assert call(base + path + "?token=not-the-token").status == 401, path
        assert call(base + path, headers={"Cookie": "corral_token=nope"}).status == 401, path
    for path in POSTS:
        assert call(base + path, "POST").status == 401, path
    health = call(base + "/healthz")
    assert (health.status, health.body) == (200, b"ok\n")
    # nothing was changed by the refused requests
    assert page_corral.status()["web-sec-db"]["restarts"] == 0
    # with the token, each page answers
    for path in ("/", "/page.js", "/api/status", "/metrics", "/service/web-sec-db"):
        assert page_corral.get(path).status == 200, path
    assert page_corral.get("/no/such/page").status == 404


def test_token_file_is_0600_and_dashboard_prints_it(page_corral: PageCorral) -> None:
    serve(page_corral)
    mode = stat.S_IMODE(os.stat(page_corral.state / "web-token").st_mode)
    assert mode == 0o600
    url = page_corral.dashboard()
    assert url == f"{page_corral.base}/?token={page_corral.token}"
    # the token once in the query sets an HttpOnly, SameSite=Strict cookie and
    # sends the browser to the same page without it
    first = call(f"{page_corral.base}/service/web-sec-db?token={page_corral.token}")
    assert first.status == 303
    assert first.headers["location"] == "/service/web-sec-db"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"corral_token={page_corral.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    again = call(page_corral.base + "/", headers={"Cookie": f"corral_token={page_corral.token}"})
    assert again.status == 200 and b"web-sec-app" in again.body


def test_changes_are_post_only_from_the_same_origin(page_corral: PageCorral) -> None:
    serve(page_corral)
    before = page_corral.status()["web-sec-db"]
    cookie = {"Cookie": f"corral_token={page_corral.token}"}
    foreign = call(
        page_corral.base + "/api/services/web-sec-db/restart",
        "POST",
        headers={**cookie, "Origin": "http://evil.example"},
    )
    assert foreign.status == 403
    referer = call(
        page_corral.base + "/api/services/web-sec-db/stop",
        "POST",
        headers={**cookie, "Referer": "http://evil.example/page"},
    )
    assert referer.status == 403
    # a browser's cookie without any origin: refused too (only a script's header token may)
    assert call(page_corral.base + POSTS[2], "POST", headers=cookie).status == 403
    # GET never changes anything
    assert page_corral.get("/api/services/web-sec-db/restart").status == 404
    assert page_corral.status()["web-sec-db"]["pid"] == before["pid"]
    own = call(
        page_corral.base + "/api/services/web-sec-db/restart",
        "POST",
        headers={**cookie, "Origin": page_corral.base},
    )
    assert (own.status, own.json()) == (200, {"ok": True})
    after = page_corral.status()["web-sec-db"]
    assert after["state"] == "running" and after["pid"] != before["pid"]
    assert page_corral.post("/api/services/nobody/restart").status == 409


def test_metrics_public_serves_only_metrics_without_the_token(page_corral: PageCorral) -> None:
    serve(page_corral, "metrics_public = true")
    metrics = call(page_corral.base + "/metrics")
    assert metrics.status == 200 and b"corral_service_up" in metrics.body
    assert call(page_corral.base + "/api/status").status == 401
    assert call(page_corral.base + "/").status == 401


def test_remote_listen_needs_allow_remote_and_tls(page_corral: PageCorral) -> None:
    port = page_corral.port
    page_corral.write(f'[http]\nlisten = "0.0.0.0:{port}"\n')
    done = page_corral.run("check", check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f'{page_corral.config}:2: http.listen: "0.0.0.0:{port}"')
    assert "allow_remote" in done.stderr
    page_corral.write(f'[http]\nlisten = "0.0.0.0:{port}"\nallow_remote = true\n')
    done = page_corral.run("check", check=False)
    assert done.returncode == 2
    assert f"{page_corral.config}:3: http.allow_remote: " in done.stderr
    assert "tls_cert and tls_key" in done.stderr
    # the daemon refuses as check does, and --http too
    page_corral.write(PROCESSES)
    refused = page_corral.run("daemon", "--http", f"0.0.0.0:{port}", check=False)
    assert refused.returncode == 1
    assert "not a loopback address" in refused.stderr and "Traceback" not in refused.stderr
    bad = page_corral.run("daemon", "--http", "localhost:http", check=False)
    assert bad.returncode == 1 and "--http localhost:http" in bad.stderr


def test_remote_page_over_tls(page_corral: PageCorral) -> None:
    need("openssl")
    key, cert = page_corral.tmp / "key.pem", page_corral.tmp / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    page_corral.write(
        f'[http]\nlisten = "0.0.0.0:{page_corral.port}"\nallow_remote = true\n'
        f'tls_cert = "{cert}"\ntls_key = "{key}"\n{PROCESSES}'
    )
    page_corral.start_daemon()
    page_corral.wait_page()
    # bound to every address, the URL names this host as others reach it
    host = socket.getfqdn()
    assert page_corral.dashboard().startswith(f"https://{host}:{page_corral.port}/?token=")
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    url = f"https://127.0.0.1:{page_corral.port}/api/status"
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {page_corral.token}"})
    with opener.open(request, timeout=10) as answer:
        assert {s["name"] for s in json.loads(answer.read())} == {"web-sec-db", "web-sec-app"}
    # the cookie the token sets is Secure over TLS
    request = urllib.request.Request(
        f"https://127.0.0.1:{page_corral.port}/?token={page_corral.token}"
    )
    no_redirect = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )
    with pytest.raises(urllib.error.HTTPError) as redirect:
        no_redirect.open(request, timeout=10)
    assert redirect.value.code == 303
    assert "; Secure" in redirect.value.headers["set-cookie"]
    # plain HTTP on the TLS port gets no page: the server speaks only TLS
    with pytest.raises(OSError):
        call(f"http://127.0.0.1:{page_corral.port}/healthz", timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_status_and_up_do_not_import_the_page(page_corral: PageCorral) -> None:
    """`corral up` and `corral status` (the client side) pay nothing for the page."""
    page_corral.write(f'[http]\nlisten = "127.0.0.1:{page_corral.port}"\n{PROCESSES}')
    heavy = ("prometheus_client", "corral.web", "corral.web.page", "aiohttp", "selenium")
    probe = (
        "import sys\n"
        "from corral.cli import main\n"
        "sys.argv = ['corral', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
        "sys.exit(3 if loaded else code)\n"
    )
    for args in (["up"], ["status"], ["status", "--json"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *page_corral.argv(*args)[1:]],
            env=page_corral.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "LOADED []" in done.stderr
    wait_for(lambda: (page_corral.state / "web-url").exists())
    assert page_corral.get("/api/status").status == 200


def test_page_port_in_use_is_said(page_corral: PageCorral) -> None:

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", page_corral.port))
        taken.listen(1)
        page_corral.write(f'[http]\nlisten = "127.0.0.1:{page_corral.port}"\n{PROCESSES}')
        done = page_corral.run("daemon", check=False, timeout=30)
    assert done.returncode == 1
    assert f"[http] cannot listen on 127.0.0.1:{page_corral.port}" in done.stderr
    assert not (page_corral.state / "web-url").exists()
    assert free_port()  # the range still has room


def test_without_http_there_is_no_page(page_corral: PageCorral) -> None:
    """No [http]: nothing listens, no token is made, `dashboard` says how to get one."""
    page_corral.write(PROCESSES)
    page_corral.run("up", timeout=60)
    assert not (page_corral.state / "web-token").exists()
    assert not (page_corral.state / "web-url").exists()
    done = page_corral.run("dashboard", check=False)
    assert done.returncode == 1
    assert "the daemon serves no status page: declare [http]" in done.stderr
    with pytest.raises(OSError):
        call(page_corral.base + "/healthz", timeout=2)
    page_corral.run("down")
    gone = page_corral.run("dashboard", check=False)
    assert gone.returncode == 1 and "no corral daemon answers" in gone.stderr
