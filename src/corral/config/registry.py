"""``Registry``: a login for one image registry, and the pull policy's values.

A record names the registry's host and the user, and where the password comes
from — a file (which must be 0600 or stricter: ``corral check`` refuses one
that group or others can read) or a command that prints it. The password
itself is never in the configuration, so it is never in ``show``, a hash or
an error. Hosts that no record names are looked up in the user's own files
(``~/.docker/config.json``, Podman's ``auth.json``, credential helpers) by
``corral.engine.credentials``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import AfterValidator, StrictStr, model_validator

from corral.config._base import Record
from corral.config._fields import NonEmpty, Strings, fail, field, show
from corral.errors import Problem

#: When a container's start pulls its (string) image: ``missing`` — only when the
#: engine lacks it; ``always`` — at every start and respawn; ``never`` — a missing
#: image fails the start; ``newer`` — when the registry's digest for the tag
#: differs from the local one.
PullPolicy = Literal["missing", "always", "never", "newer"]

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:]+\](:[0-9]+)?")


def _host(value: str) -> str:
    text = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    if not _HOST.fullmatch(text):
        raise fail(
            f"host must be a registry host like registry.example.com or 127.0.0.1:5000, "
            f"but {show(value)} was found"
        )
    return text


class Registry(Record):
    """A login for one registry (`[[registry]]`): the password is read from
    `password_file` (mode 0600 or stricter) or printed by `password_command`, at
    each pull, push or lock; it reaches the engine only in the API's
    `X-Registry-Auth` header."""

    toml_name = "[[registry]]"
    default_change = "in_place"

    host: Annotated[NonEmpty, AfterValidator(_host)] = field(
        doc="The registry's host (and port), as image references name it: "
        "`registry.example.com`, `127.0.0.1:5000`; `docker.io` for Docker Hub."
    )
    username: NonEmpty = field(doc="The user to log in as.")
    password_file: StrictStr | None = field(
        None,
        doc="A file holding the password (one line; a trailing newline is dropped), "
        "relative to the configuration file; readable by its owner only.",
    )
    password_command: Strings = field(
        (),
        doc='A command that prints the password (like `["pass", "show", "registry"]`); '
        "the password is its output, never shown or stored.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Registry:
        if (self.password_file is None) == (not self.password_command):
            raise fail(
                "a registry takes its password from one of password_file or password_command"
            )
        return self


def registry_problems(registries: tuple[Registry, ...]) -> Iterator[Problem]:
    """A password file that is missing, or that group or others may read; two
    records for one host."""
    seen: set[str] = set()
    for i, registry in enumerate(registries):
        if registry.host in seen:
            yield Problem(
                f"two registry records name the host {show(registry.host)}",
                ("registries", i, "host"),
            )
        seen.add(registry.host)
        path = registry.password_file
        if path is None:
            continue
        where = ("registries", i, "password_file")
        try:
            mode = os.stat(path).st_mode
        except OSError as error:
            yield Problem(f"{path}: {error.strerror}", where)
            continue
        if not stat.S_ISREG(mode):
            yield Problem(f"{path} is not a file", where)
        elif mode & 0o077:
            yield Problem(
                f"{path} has mode {stat.S_IMODE(mode):04o}: a password file must be readable "
                f"by its owner only (chmod 600 {path})",
                where,
            )
