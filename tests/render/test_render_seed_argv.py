"""Golden seed command lines (`run --rm`): the seed's fields in the seed's order,
both pair forms, both runtimes, the naming rules, and the other services' lines."""

from __future__ import annotations

import pytest

from corral.config import (
    Config,
    Containerd,
    DockerDaemon,
    Network,
    OciContainer,
    OciImage,
    Volume,
    declared_services,
)
from corral.config.services import container_name, image_basename
from corral.render import container_spec, seed_argv
from corral.render.commands import (
    containerd_command,
    dockerd_command,
    network_create_command,
    volume_create_command,
)
from corral.runtimes import Runtime


def run_command(container: OciContainer, name: str, runtime: Runtime) -> list[str]:
    """The seed's line for ``container``: its spec without corral's labels."""
    return seed_argv(container_spec(container, name, runtime))


@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_seed_fields_in_seed_order(runtime: Runtime) -> None:
    container = OciContainer(
        image="registry:5000/team/app:1.2",
        command=["httpd", "-f", "-p", "80"],
        entrypoint="/bin/busybox",
        environment=["MODE=prod", ("LANG", "C.UTF-8")],
        network="web",
        container_user="1000",
        workdir="/www",
        ports=["8080:80", ("10443", "443")],
        volumes=[("/srv/www", "/www"), "/etc/hosts:/etc/hosts:ro"],
        extra_arguments=["--read-only", "--env", "SECRET"],
    )
    name = container_name(container, runtime)
    assert name == f"{runtime}-app"
    assert run_command(container, name, runtime) == [
        runtime, "run", "--rm", "--name", f"{runtime}-app",
        "--entrypoint", "/bin/busybox",
        "--env", "MODE=prod", "--env", "LANG=C.UTF-8",
        "--network", "web",
        "--user", "1000",
        "--workdir", "/www",
        "-p", "8080:80", "-p", "10443:443",
        "-v", "/srv/www:/www", "-v", "/etc/hosts:/etc/hosts:ro",
        "--read-only", "--env", "SECRET",
        "registry:5000/team/app:1.2",
        "httpd", "-f", "-p", "80",
    ]  # fmt: skip


def test_minimal_container_is_the_seed_line() -> None:
    container = OciContainer(image="busybox")
    assert run_command(container, "docker-busybox", "docker") == [
        "docker", "run", "--rm", "--name", "docker-busybox", "busybox",
    ]  # fmt: skip


def test_new_fields_come_before_extra_arguments() -> None:
    container = OciContainer(
        image="busybox:1",
        provision="web",
        labels={"team": "ops", "tier": "front"},
        hostname="web1",
        stop_signal="QUIT",
        stop_timeout=30,
        health_cmd="wget -q -O- http://127.0.0.1/ || exit 1",
        health_interval=5,
        health_timeout=2.5,
        health_retries=4,
        health_start_period=0.5,
        extra_arguments=["--init"],
    )
    assert run_command(container, "web", "docker") == [
        "docker", "run", "--rm", "--name", "web",
        "--label", "team=ops", "--label", "tier=front",
        "--hostname", "web1",
        "--stop-signal", "SIGQUIT",
        "--stop-timeout", "30",
        "--health-cmd", "wget -q -O- http://127.0.0.1/ || exit 1",
        "--health-interval", "5s",
        "--health-timeout", "2.5s",
        "--health-retries", "4",
        "--health-start-period", "500ms",
        "--init",
        "busybox:1",
    ]  # fmt: skip


def test_host_environment_never_enters_argv() -> None:
    container = OciContainer(
        image="busybox",
        host_environment=[("DB_PASSWORD", "hunter2"), "TOKEN=s3cret"],
        extra_arguments=["--env", "DB_PASSWORD"],
    )
    argv = run_command(container, "docker-busybox", "docker")
    assert not any("hunter2" in a or "s3cret" in a for a in argv)
    assert container.host_environment == ("DB_PASSWORD=hunter2", "TOKEN=s3cret")
    assert "hunter2" not in repr(container)


def test_image_record_reference_and_name() -> None:
    image = OciImage(repository="localhost/team/web", tag="2", tarball="/tmp/web.tar")
    container = OciContainer(image=image)
    assert container_name(container, "podman") == "podman-web"
    assert run_command(container, "podman-web", "podman")[-1] == "localhost/team/web:2"


@pytest.mark.parametrize(
    ("reference", "basename"),
    [
        ("busybox", "busybox"),
        ("busybox:1.36", "busybox"),
        ("library/busybox:latest", "busybox"),
        ("registry:5000/team/app:1.2", "app"),
        ("registry:5000/app", "app"),
        ("ghcr.io/org/tool@sha256:" + "a" * 64, "tool"),
        ("localhost/web:1@sha256:" + "b" * 64, "web"),
    ],
)
def test_image_basename(reference: str, basename: str) -> None:
    assert image_basename(reference) == basename


def test_provision_wins_over_image_name() -> None:
    container = OciContainer(image="registry:5000/team/app:1.2", provision="api")
    assert container_name(container, "docker") == "api"


def test_service_names_and_implicit_requirements() -> None:
    config = Config(
        runtime="docker",
        docker=DockerDaemon(),
        containerd=Containerd(),
        networks=[Network(name="web")],
        volumes=[Volume(name="data")],
        containers=[
            OciContainer(image="db:1", provision="db", volumes=["data:/var/lib/db"]),
            OciContainer(image="app", network="web", requirement=["db"]),
        ],
    )
    services = {s.name: s.requirement for s in declared_services(config)}
    assert services == {
        "containerd": (),
        "dockerd": ("containerd",),
        "docker-network-web": ("dockerd",),
        "docker-volume-data": ("dockerd",),
        "db": ("dockerd", "docker-volume-data"),
        "docker-app": ("dockerd", "docker-network-web", "db"),
    }


def test_dockerd_command_as_the_seed_builds_it() -> None:
    assert dockerd_command(DockerDaemon(proxy="/gnu/proxy/bin/proxy"), Containerd()) == [
        "dockerd", "-p", "/var/run/docker.pid",
        "--userland-proxy=true", "--userland-proxy-path=/gnu/proxy/bin/proxy",
        "--iptables",
        "--containerd", "/run/containerd/containerd.sock",
    ]  # fmt: skip
    docker = DockerDaemon(
        debug=True,
        enable_proxy=False,
        enable_iptables=False,
        config_file="/etc/docker/daemon.json",
        data_root="/srv/docker",
        exec_root="/run/d2",
        host="unix:///run/d2.sock",
        pid_file="/run/d2.pid",
    )
    assert dockerd_command(docker, None) == [
        "dockerd", "-p", "/run/d2.pid",
        "--config-file=/etc/docker/daemon.json",
        "--debug", "--log-level=debug",
        "--userland-proxy=false",
        "--iptables=false",
        "--data-root=/srv/docker", "--exec-root=/run/d2",
        "--host", "unix:///run/d2.sock",
    ]  # fmt: skip


def test_containerd_command() -> None:
    assert containerd_command(Containerd(debug=True, root="/srv/ctd")) == [
        "containerd", "--log-level=debug",
        "--address", "/run/containerd/containerd.sock", "--root", "/srv/ctd",
    ]  # fmt: skip


def test_network_and_volume_commands() -> None:
    network = Network(
        name="web",
        subnet="10.89.0.0/24",
        gateway="10.89.0.1",
        ip_range="10.89.0.128/25",
        ipv6=True,
        internal=True,
        labels={"a": "b"},
        extra_arguments=["--opt", "x=y"],
    )
    assert network_create_command(network, "podman") == [
        "podman", "network", "create", "--driver", "bridge",
        "--subnet", "10.89.0.0/24", "--gateway", "10.89.0.1", "--ip-range", "10.89.0.128/25",
        "--ipv6", "--internal", "--label", "a=b", "--opt", "x=y", "web",
    ]  # fmt: skip
    volume = Volume(name="data", labels={"k": "v"})
    assert volume_create_command(volume, "docker") == [
        "docker", "volume", "create", "--driver", "local", "--label", "k=v", "data",
    ]  # fmt: skip
