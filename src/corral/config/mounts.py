"""The ``-v`` volume grammar, parsed once for validation and for both renderings.

``[SOURCE:]TARGET[:OPTIONS]``: ``/data`` (an anonymous volume), ``data:/data`` (a
named volume), ``/srv/www:/www:ro`` (a bind mount with options). TARGET is a path
inside the container and must be absolute.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.config._fields import show


class MountSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Mount:
    #: A host path or a volume name; None for an anonymous volume.
    source: str | None
    target: str
    #: Comma-separated options (``ro``, ``z``…), or "".
    options: str = ""

    @property
    def text(self) -> str:
        """The mapping as the CLI's ``-v`` and the API's ``Binds`` take it."""
        parts = [self.source, self.target] if self.source is not None else [self.target]
        return ":".join(parts + ([self.options] if self.options else []))


def parse_mount(spec: str) -> Mount:
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts[:2]):
        raise MountSpecError(f"{show(spec)} is not a volume mapping like /srv/www:/www[:ro]")
    if len(parts) == 1:
        source, target, options = None, parts[0], ""
    else:
        source, target = parts[0], parts[1]
        options = parts[2] if len(parts) == 3 else ""
    if not target.startswith("/"):
        raise MountSpecError(f"the container path {show(target)} of {show(spec)} must be absolute")
    if len(parts) == 3 and not options:
        raise MountSpecError(f"{show(spec)} has an empty options part")
    return Mount(source, target, options)
