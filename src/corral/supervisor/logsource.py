"""Where a service's log is: a file corral writes, or the engine's own log of
a container declared without ``log_file``. Pure; the daemon and the client
(when no daemon answers) both ask it."""

from __future__ import annotations

from corral.config import Config, Declared, OciContainer, OciImage, declared_services
from corral.errors import CorralError
from corral.paths import build_log_path, default_log_path


def log_source(config: Config, name: str, state_dir: str) -> dict[str, str]:
    """``{"path": FILE}``, or ``{"runtime": R, "container": NAME}`` for the engine's log;
    with ``"build_log": FILE`` for a container whose image is a Dockerfile build."""
    for service in declared_services(config):
        if service.name != name:
            continue
        if service.kind in ("network", "volume"):
            raise CorralError(f"{name} is a {service.kind}: it has no log")
        path = log_path(service, state_dir)
        source = {"runtime": config.runtime, "container": name} if path is None else {"path": path}
        record = service.record
        image = record.image if isinstance(record, OciContainer) else None
        if isinstance(image, OciImage) and image.build is not None:  # its builds' output
            source["build_log"] = build_log_path(state_dir, name)
        return source
    raise CorralError(f"no service named {name!r}")


def log_path(service: Declared, state_dir: str) -> str | None:
    """The file corral writes ``service``'s output to; None when the engine keeps
    it (a container without ``log_file``) or there is no output (networks, volumes)."""
    record = service.record
    if service.kind in ("network", "volume"):
        return None
    if isinstance(record, OciContainer) and record.log_file is None:
        return None
    log_file = getattr(record, "log_file", None)
    return str(log_file or default_log_path(state_dir, service.name))
