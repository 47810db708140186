"""Pure command lines of the services that are not containers: processes, the
engine daemons (dockerd, containerd, Podman's API service), networks and volumes — and Podman's
health-check run. Records in, argv out; no I/O happens here. (A container's
command lines come from its spec: ``render.container``.)
"""

from __future__ import annotations

from collections.abc import Sequence

from corral.config import Containerd, DockerDaemon, Network, PodmanService, Process, Volume
from corral.render.argv import Argv
from corral.runtimes import Runtime


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


def podman_service_command(podman: PodmanService) -> list[str]:
    """``podman system service --time=0 unix://PATH``: the API, for as long as it runs."""
    argv = Argv([podman.podman])
    argv.flag("--log-level=debug", podman.debug)
    argv += ["system", "service", "--time=0", f"unix://{podman.socket}"]
    return argv


def containerd_command(containerd: Containerd) -> list[str]:
    argv = Argv([containerd.containerd])
    argv.flag("--log-level=debug", containerd.debug)
    argv.option("--address", containerd.address)
    argv.option("--root", containerd.root)
    argv.option("--state", containerd.state)
    return argv


def network_create_command(
    network: Network, runtime: Runtime, engine_options: Sequence[str] = ()
) -> list[str]:
    """``<runtime> [ENGINE OPTIONS] network create …`` (options that reach its engine)."""
    argv = Argv([runtime, *engine_options, "network", "create"])
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


def volume_create_command(
    volume: Volume, runtime: Runtime, engine_options: Sequence[str] = ()
) -> list[str]:
    argv = Argv([runtime, *engine_options, "volume", "create"])
    argv.option("--driver", volume.driver)
    argv.labels("--label", volume.labels)
    argv += volume.extra_arguments
    argv.append(volume.name)
    return argv


def podman_healthcheck_command(name: str) -> list[str]:
    """Run ``name``'s health check once (Podman 4.3 otherwise needs systemd timers)."""
    return ["podman", "healthcheck", "run", name]
