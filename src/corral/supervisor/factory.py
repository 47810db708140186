"""Which runner supervises a declared service, keyed on its kind.

Processes and the engine daemons (dockerd, containerd) run as host processes;
containers, networks and volumes go through the engine's one connection.
"""

from __future__ import annotations

from corral.config import (
    Config,
    Containerd,
    Declared,
    DockerDaemon,
    Network,
    OciContainer,
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
    if isinstance(record, DockerDaemon | Containerd):
        socket = (
            record.address
            if isinstance(record, Containerd)
            else endpoint_for(config, "docker", context.state_dir).socket
        )
        return ProcessRunner(
            ProcessSpec(
                name=service.name,
                argv=tuple(service_argv(config, service)),
                environment=record.environment_variables,
                log_path=record.log_file or log_default,
                ready_socket=socket,
                ready_timeout=DAEMON_READY_TIMEOUT,
                stop_timeout=10.0,
            ),
            context,
        )
    if isinstance(record, OciContainer):
        return ContainerRunner(service.name, record, config.runtime, context, config.registries)
    if isinstance(record, Network):
        return NetworkRunner(service.name, record, config.runtime, context)
    if isinstance(record, Volume):
        return VolumeRunner(service.name, record, config.runtime, context)
    raise CorralError(f"{service.name}: corral cannot run a {service.kind} service")
