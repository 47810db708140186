"""Who may use the page: the token, and the same-origin rule for changes.

The token is 32 random bytes (URL-safe text) in ``<state_dir>/web-token``,
mode 0600, made on first use and kept across restarts: whoever can read it
may use the page. A request carries it as ``Authorization: Bearer TOKEN``
(scripts, a Prometheus scrape), as the ``corral_token`` cookie (the
browser), or once as ``?token=TOKEN``: that answer sets the cookie
(HttpOnly, SameSite=Strict) and redirects to the same address without the
token, so it stays out of the history and of logs. Only ``/healthz`` is
served without it.

A POST (the only method that changes anything) must also come from the
page's own origin: its ``Origin`` (or, when a browser sends none,
``Referer``) must be the page's, or a 403 is the answer. A POST that
carries neither is accepted only with the token in the header (a script,
not a browser that could be tricked into sending a cookie).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from urllib.parse import urlsplit

from corral.web.http import Request

TOKEN_FILE = "web-token"
#: The page's address, written by the daemon while the page serves.
URL_FILE = "web-url"
COOKIE = "corral_token"


def token_path(state_dir: str) -> str:
    return os.path.join(state_dir, TOKEN_FILE)


def ensure_token(state_dir: str) -> str:
    """The page's token, made (0600) if there is none yet."""
    path = token_path(state_dir)
    with contextlib.suppress(FileNotFoundError):
        with open(path) as file:
            token = file.read().strip()
        if token:
            os.chmod(path, 0o600)
            return token
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    os.replace(path + ".new", path)
    return token


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def header_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def authorized(request: Request, token: str) -> bool:
    """The request carries ``token`` (header, cookie or query)."""
    offered = [
        header_token(request),
        request.cookies.get(COOKIE),
        request.query.get("token"),
    ]
    return any(o is not None and _same(o, token) for o in offered)


def same_origin(request: Request, own: set[str]) -> bool:
    """A POST's origin is the page's own (``own``: ``scheme://host:port`` forms)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        if referer is None:
            return origin is None and header_token(request) is not None
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.lower() in own
