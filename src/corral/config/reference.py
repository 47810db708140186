"""Image references, as Docker's grammar (distribution/reference) reads them.

``[DOMAIN[:PORT]/]PATH[:TAG][@DIGEST]``: a domain is the first component when it
has a ``.`` or a ``:`` or is ``localhost``; otherwise the reference is on
Docker Hub (``docker.io``, ``library/`` for one component). Pure: the config
layer checks a declared image with it, the engine resolves and pulls with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
DOCKER_HUB = "docker.io"
#: Where Docker Hub's registry API answers.
DOCKER_HUB_API = "registry-1.docker.io"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ReferenceError(ValueError):
    """Not an image reference."""


@dataclass(frozen=True)
class Reference:
    """A parsed reference: ``domain`` always set (``docker.io`` for Hub)."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """``domain/path`` as the engine names it (Hub's spelled short, as declared)."""
        return f"{self.domain}/{self.path}"

    @property
    def registry(self) -> str:
        """The host the registry API answers on."""
        return DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    @property
    def tag_or_latest(self) -> str:
        return self.tag or "latest"

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _first_is_domain(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost" or first.startswith("[")


def parse_reference(text: str) -> Reference:
    """``text`` parsed; ``ReferenceError`` saying what is wrong with it."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        hint = " (repository names are lower case)" if text != text.lower() else ""
        raise ReferenceError(f"{text!r} is not a valid image reference{hint}")
    domain, path = match.group("domain"), match.group("path")
    if domain is not None and not _first_is_domain(domain):
        # "team/app": the first component is a path component, not a domain
        path = f"{domain}/{path}"
        domain = None
        if _REFERENCE.fullmatch(text) is None or not re.fullmatch(_COMPONENT, path.split("/")[0]):
            raise ReferenceError(f"{text!r} is not a valid image reference")
    if domain is None:
        domain = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return Reference(domain, path, match.group("tag"), match.group("digest"))


def repository_of(text: str) -> str:
    """The reference ``text`` without its tag and digest, as declared (short names kept)."""
    name = text.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


def pinned(text: str, digest: str) -> str:
    """``repo:tag`` → ``repo@digest``: what a lock makes a container run."""
    return f"{repository_of(text)}@{digest}"
