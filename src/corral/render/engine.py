"""Pure engine command lines for supervised containers: records in, argv out.

corral creates and starts a container instead of the seed's foreground
``run --rm``, so that a graceful stop leaves the exit code readable and one
engine connection (not one CLI per container) watches it::

    <runtime> create --name N --label corral.service=N
        --label corral.config-hash=H OPTIONS… IMAGE CMD…

OPTIONS are exactly ``container_options`` (the seed's options, then corral's
additions, then extra_arguments). When no option needs the CLI, corral sends
the same declaration as an Engine API create document (``create_body``)
instead, sparing a CLI process per container. No I/O happens here;
host_environment values never enter an argv and enter the config hash only
as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from corral.config import OciContainer
from corral.config.ports import parse_port
from corral.config.services import image_reference
from corral.render.commands import ENGINE_STOP_TIMEOUT, container_options

#: Label naming the corral service a container belongs to.
SERVICE_LABEL = "corral.service"
#: Label holding the hash of the declaration the container was created from.
HASH_LABEL = "corral.config-hash"
#: Label naming the corral instance (its state directory) that owns the container.
INSTANCE_LABEL = "corral.instance"

#: Fields that only steer corral's supervision (or the CLI's identity): a
#: change to them never recreates a running container.
SUPERVISION_FIELDS = frozenset(
    {
        "user",
        "group",
        "requirement",
        "log_file",
        "auto_start",
        "respawn",
        "actions",
        "on_unhealthy",
        "respawn_limit",
        "respawn_delay",
        "host_environment",
    }
)


def _secret_digest(host_environment: tuple[str, ...], key: bytes) -> str:
    """A keyed digest of the host environment that stands in for its values.

    The key is the host's own (``<state_dir>/hash.key``), so the label on a
    container cannot be used to guess a weak secret offline."""
    canonical = json.dumps(sorted(host_environment), separators=(",", ":"))
    return hmac.new(b"corral host_environment\0" + key, canonical.encode(), "sha256").hexdigest()


def hash_document(
    container: OciContainer, runtime: str, image_id: str | None = None, key: bytes = b""
) -> dict[str, Any]:
    """The canonical document ``config_hash`` digests (secrets only as a digest)."""
    declared = container.model_dump(mode="json", exclude=set(SUPERVISION_FIELDS))
    return {
        "runtime": runtime,
        "container": declared,
        "host_environment": _secret_digest(container.host_environment, key),
        "image_id": image_id,
    }


def config_hash(
    container: OciContainer, runtime: str, image_id: str | None = None, key: bytes = b""
) -> str:
    """sha256 (hex) of everything that shapes the container: a changed field,
    image ID (when given) or host_environment secret means recreate."""
    document = hash_document(container, runtime, image_id, key)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def corral_labels(name: str, hash_: str, instance: str = "") -> dict[str, str]:
    """corral's labels on a container: its service, its declaration's hash, and
    (when given) the corral instance that owns it — its state directory — so
    two corral daemons on one host never take each other's containers."""
    labels = {SERVICE_LABEL: name, HASH_LABEL: hash_}
    if instance:
        labels[INSTANCE_LABEL] = instance
    return labels


def create_command(
    container: OciContainer,
    name: str,
    runtime: str,
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """``<runtime> create --name N --label …`` with corral's labels (by default
    ``corral_labels(name, config_hash(container, runtime))``) then the options."""
    if labels is None:
        labels = corral_labels(name, config_hash(container, runtime))
    argv = [runtime, "create", "--name", name]
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    return [
        *argv,
        *container_options(container),
        image_reference(container.image),
        *container.command,
    ]


def create_body(container: OciContainer, labels: Mapping[str, str]) -> dict[str, Any] | None:
    """The Engine API's create document for what ``create_command`` says, or
    None when only the CLI can say it: free-form extra_arguments, or an
    environment entry without a value (which the CLI takes from its own
    environment, where host_environment lives)."""
    if container.extra_arguments or any("=" not in e for e in container.environment):
        return None
    body: dict[str, Any] = {
        "Image": image_reference(container.image),
        "Labels": {**container.labels, **labels},
        "Env": list(container.environment),
    }
    if container.command or container.entrypoint is not None:
        body["Cmd"] = list(container.command)
    if container.entrypoint is not None:
        body["Entrypoint"] = [container.entrypoint]
    optional = {
        "User": container.container_user,
        "WorkingDir": container.workdir,
        "Hostname": container.hostname,
        "StopSignal": container.stop_signal,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if container.stop_timeout != ENGINE_STOP_TIMEOUT:
        body["StopTimeout"] = round(container.stop_timeout)
    if container.health_cmd is not None:
        body["Healthcheck"] = {
            "Test": ["CMD-SHELL", container.health_cmd],
            "Interval": _nanoseconds(container.health_interval),
            "Timeout": _nanoseconds(container.health_timeout),
            "Retries": container.health_retries,
            "StartPeriod": _nanoseconds(container.health_start_period),
        }
    host: dict[str, Any] = {}
    if container.ports:
        exposed: dict[str, dict[str, str]] = {}
        bindings: dict[str, list[dict[str, str]]] = {}
        for spec in container.ports:
            mapping = parse_port(spec)
            for host_port, port in mapping.bindings():
                key = f"{port}/{mapping.protocol}"
                exposed[key] = {}
                bindings.setdefault(key, []).append(
                    {"HostIp": mapping.address, "HostPort": host_port}
                )
        body["ExposedPorts"] = exposed
        host["PortBindings"] = bindings
    if container.volumes:
        host["Binds"] = list(container.volumes)
    if container.network is not None:
        host["NetworkMode"] = container.network
    if host:
        body["HostConfig"] = host
    return body


def _nanoseconds(seconds: float) -> int:
    return round(seconds * 1_000_000_000)


def stop_command(runtime: str, name: str, timeout: float) -> list[str]:
    """Ask ``name`` to stop with its stop signal; SIGKILL after ``timeout`` s."""
    return [runtime, "stop", "--time", str(max(0, round(timeout))), name]


def rm_command(runtime: str, name: str, *, force: bool = False) -> list[str]:
    """Remove ``name`` and its anonymous volumes (as ``run --rm`` did)."""
    argv = [runtime, "rm", "--volumes"]
    if force:
        argv.append("--force")
        if runtime == "podman":
            # podman rm -f would first wait out the stop timeout.
            argv += ["--time", "0"]
    return [*argv, name]


def pull_command(runtime: str, reference: str) -> list[str]:
    return [runtime, "pull", reference]


def podman_healthcheck_command(name: str) -> list[str]:
    """Run ``name``'s health check once (Podman 4.3 otherwise needs systemd timers)."""
    return ["podman", "healthcheck", "run", name]
