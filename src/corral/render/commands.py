"""Pure command lines: records in, argv out. No I/O happens here.

The container's run line is the seed's, flag for flag::

    <runtime> run --rm --name N [--entrypoint E] [--env K=V]… [--network N]
        [--user U] [--workdir W] [-p P]… [-v V]… NEW… EXTRA… IMAGE CMD…

where NEW are corral's additions (labels, hostname, stop signal and timeout,
health check), each present only when set, so a declaration that uses only
the seed's fields renders exactly the seed's line. host_environment values
never enter an argv: they go to the CLI process's environment.
"""

from __future__ import annotations

from corral.config import Containerd, DockerDaemon, Network, OciContainer, Process, Volume
from corral.config.services import image_reference
from corral.render.argv import Argv, seconds

#: The engines' own default stop timeout; rendered only when it differs.
ENGINE_STOP_TIMEOUT = 10.0


def container_options(container: OciContainer) -> Argv:
    """The options of ``run``/``create`` for ``container``, in the seed's order."""
    argv = Argv()
    argv.option("--entrypoint", container.entrypoint)
    argv.each("--env", container.environment)
    argv.option("--network", container.network)
    argv.option("--user", container.container_user)
    argv.option("--workdir", container.workdir)
    argv.each("-p", container.ports)
    argv.each("-v", container.volumes)
    argv.labels("--label", container.labels)
    argv.option("--hostname", container.hostname)
    argv.option("--stop-signal", container.stop_signal)
    if container.stop_timeout != ENGINE_STOP_TIMEOUT:
        argv.option("--stop-timeout", str(round(container.stop_timeout)))
    if container.health_cmd is not None:
        argv.option("--health-cmd", container.health_cmd)
        argv.option("--health-interval", seconds(container.health_interval))
        argv.option("--health-timeout", seconds(container.health_timeout))
        argv.option("--health-retries", str(container.health_retries))
        argv.option("--health-start-period", seconds(container.health_start_period))
    argv += container.extra_arguments
    return argv


def run_command(container: OciContainer, name: str, runtime: str) -> list[str]:
    """``<runtime> run --rm --name NAME OPTIONS… IMAGE COMMAND…``, as the seed runs it."""
    return [
        runtime,
        "run",
        "--rm",
        "--name",
        name,
        *container_options(container),
        image_reference(container.image),
        *container.command,
    ]


def process_command(process: Process) -> list[str]:
    return list(process.command)


def dockerd_command(docker: DockerDaemon, containerd: Containerd | None) -> list[str]:
    """dockerd's argv, with the seed's flags and corral's additions."""
    argv = Argv([docker.dockerd, "-p", docker.pid_file])
    argv.joined("--config-file", docker.config_file)
    argv.flag("--debug", docker.debug).flag("--log-level=debug", docker.debug)
    if docker.enable_proxy:
        argv += ["--userland-proxy=true", f"--userland-proxy-path={docker.proxy}"]
    else:
        argv.append("--userland-proxy=false")
    argv.append("--iptables" if docker.enable_iptables else "--iptables=false")
    socket = docker.containerd_socket or (containerd.address if containerd else None)
    argv.option("--containerd", socket)
    argv.joined("--data-root", docker.data_root)
    argv.joined("--exec-root", docker.exec_root)
    argv.option("--host", docker.host)
    return argv


def containerd_command(containerd: Containerd) -> list[str]:
    argv = Argv([containerd.containerd])
    argv.flag("--log-level=debug", containerd.debug)
    argv.option("--address", containerd.address)
    argv.option("--root", containerd.root)
    argv.option("--state", containerd.state)
    return argv


def network_create_command(network: Network, runtime: str) -> list[str]:
    argv = Argv([runtime, "network", "create"])
    argv.option("--driver", network.driver)
    argv.option("--subnet", network.subnet)
    argv.option("--gateway", network.gateway)
    argv.option("--ip-range", network.ip_range)
    argv.flag("--ipv6", network.ipv6)
    argv.flag("--internal", network.internal)
    argv.labels("--label", network.labels)
    argv += network.extra_arguments
    argv.append(network.name)
    return argv


def volume_create_command(volume: Volume, runtime: str) -> list[str]:
    argv = Argv([runtime, "volume", "create"])
    argv.option("--driver", volume.driver)
    argv.labels("--label", volume.labels)
    argv += volume.extra_arguments
    argv.append(volume.name)
    return argv
