"""Which runner supervises a declared service, keyed on its kind.

Processes and the engine daemons (dockerd, containerd) run as host processes;
containers, networks and volumes go through the engine's one connection.
"""

from __future__ import annotations

import os
import shutil

from corral.config import (
    Config,
    Containerd,
    Declared,
    DockerDaemon,
    Network,
    OciContainer,
    OciImage,
    PodmanService,
    Process,
    Volume,
)
from corral.engine.endpoint import endpoint_for
from corral.errors import CorralError
from corral.paths import default_log_path
from corral.render import service_argv
from corral.supervisor.container import ContainerRunner
from corral.supervisor.objects import NetworkRunner, VolumeRunner
from corral.supervisor.process import ProcessRunner, ProcessSpec
from corral.supervisor.runner import RunContext, Runner

DAEMON_READY_TIMEOUT = 60.0
#: dockerd stops its containers' shims and unmounts before it exits: give it time
DAEMON_STOP_TIMEOUT = 30.0


def runner_for(service: Declared, config: Config, context: RunContext) -> Runner:
    record = service.record
    log_default = default_log_path(context.state_dir, service.name)
    if isinstance(record, Process):
        return ProcessRunner(
            ProcessSpec(
                name=service.name,
                argv=tuple(service_argv(config, service)),
                environment=record.environment,
                user=record.user,
                group=record.group,
                working_directory=record.working_directory,
                log_path=record.log_file or log_default,
                pid_file=record.pid_file,
                ready_socket=record.ready_socket,
                ready_timeout=record.pid_file_timeout,
                stop_signal=record.stop_signal,
                stop_timeout=record.stop_timeout,
                one_shot=record.one_shot,
            ),
            context,
        )
    if isinstance(record, Containerd):
        # containerd finds its shim (containerd-shim-runc-v2) on PATH: its own directory first
        return _daemon_runner(
            service,
            config,
            context,
            environment=(_path_with(record.containerd), *record.environment_variables),
            ready_socket=record.address,
        )
    if isinstance(record, DockerDaemon):
        return _daemon_runner(
            service,
            config,
            context,
            environment=record.environment_variables,
            pid_file=record.pid_file,
            ready_api=endpoint_for(config, "docker", context.state_dir).socket,
        )
    if isinstance(record, PodmanService):
        return _daemon_runner(
            service,
            config,
            context,
            environment=record.environment_variables,
            ready_api=endpoint_for(config, "podman", context.state_dir).socket,
        )
    if isinstance(record, OciContainer):
        records = tuple(c.image for c in config.containers if isinstance(c.image, OciImage))
        return ContainerRunner(
            service.name, record, config.runtime, context, config.registries, records
        )
    if isinstance(record, Network):
        return NetworkRunner(service.name, record, config.runtime, context)
    if isinstance(record, Volume):
        return VolumeRunner(service.name, record, config.runtime, context)
    raise CorralError(f"{service.name}: corral cannot run a {service.kind} service")


def _daemon_runner(
    service: Declared,
    config: Config,
    context: RunContext,
    *,
    environment: tuple[str, ...],
    pid_file: str | None = None,
    ready_socket: str | None = None,
    ready_api: str | None = None,
) -> ProcessRunner:
    """An engine daemon: a host process, ready when its pid file, socket or API says so."""
    log_file = getattr(service.record, "log_file", None)
    return ProcessRunner(
        ProcessSpec(
            name=service.name,
            argv=tuple(service_argv(config, service)),
            environment=environment,
            log_path=log_file or default_log_path(context.state_dir, service.name),
            pid_file=pid_file,
            ready_socket=ready_socket,
            ready_api=ready_api,
            ready_timeout=DAEMON_READY_TIMEOUT,
            stop_timeout=DAEMON_STOP_TIMEOUT,
        ),
        context,
    )


def _path_with(program: str) -> str:
    """``PATH=`` with ``program``'s directory first (as the seed gives containerd)."""
    found = shutil.which(program)
    directory = os.path.dirname(os.path.abspath(found)) if found else None
    rest = os.environ.get("PATH", os.defpath)
    return f"PATH={directory}:{rest}" if directory else f"PATH={rest}"
