"""Bind sources a container's start needs: a missing host directory is made
(0755) before the container is created, as dockerd does for itself and Podman
does not. It belongs to the user corral runs as: rootless, that user is the
container's root, and with ``userns = "keep-id"`` the container user itself;
a volume's ``U`` option (Podman) then hands it to the container user's
mapped id."""

from __future__ import annotations

import os

from corral.config.container import OciContainer
from corral.config.mounts import parse_mount
from corral.errors import CorralError


def make_bind_sources(container: OciContainer) -> list[str]:
    """Create each absent absolute bind source of ``container``; the paths made."""
    made: list[str] = []
    for spec in container.volumes:
        source = parse_mount(spec).source
        if source is None or not source.startswith("/") or os.path.lexists(source):
            continue
        try:
            os.makedirs(source, mode=0o755, exist_ok=True)
        except OSError as error:
            raise CorralError(
                f"cannot create the bind source {source} of {spec!r}: {error.strerror}"
            ) from None
        made.append(source)
    return made
