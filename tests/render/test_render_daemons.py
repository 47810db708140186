"""Golden command lines of the engine daemons corral runs: every combination of
dockerd's seed flags (pid file, config file, debug, userland proxy, iptables,
containerd socket), containerd's, and Podman's API service — and the services
they make (names, requirements, what `show` prints)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from corral.config import (
    Config,
    Containerd,
    DockerDaemon,
    Network,
    OciContainer,
    PodmanService,
    declared_services,
)
from corral.render import show_services
from corral.render.commands import containerd_command, dockerd_command, podman_service_command

#: Each dockerd option the seed knows, off and on: (record fields, the words it adds).
#: The words come in this order on the line, after ``dockerd -p PID``.
Choice = tuple[dict[str, object], list[str]]
DOCKERD_FLAGS: list[tuple[Choice, Choice]] = [
    (({}, []), ({"config_file": "/etc/docker/d.json"}, ["--config-file=/etc/docker/d.json"])),
    (({}, []), ({"debug": True}, ["--debug", "--log-level=debug"])),
    (
        ({}, ["--userland-proxy=true", "--userland-proxy-path=/opt/d/docker-proxy"]),
        ({"enable_proxy": False}, ["--userland-proxy=false"]),
    ),
    (({}, ["--iptables"]), ({"enable_iptables": False}, ["--iptables=false"])),
]  # fmt: skip


@pytest.mark.parametrize("choice", list(itertools.product((0, 1), repeat=len(DOCKERD_FLAGS))))
@pytest.mark.parametrize("containerd", [None, "table", "field"])
def test_dockerd_every_flag_combination(choice: tuple[int, ...], containerd: str | None) -> None:
    fields: dict[str, object] = {"pid_file": "/run/d.pid", "proxy": "/opt/d/docker-proxy"}
    expected = ["dockerd", "-p", "/run/d.pid"]
    for (off, on), picked in zip(DOCKERD_FLAGS, choice, strict=True):
        more, words = on if picked else off
        fields.update(more)
        expected += words
    table = Containerd(address="/run/ctd/ctd.sock") if containerd == "table" else None
    if containerd == "field":
        fields["containerd_socket"] = "/run/other/containerd.sock"
        expected += ["--containerd", "/run/other/containerd.sock"]
    elif containerd == "table":
        expected += ["--containerd", "/run/ctd/ctd.sock"]
    assert dockerd_command(DockerDaemon.model_validate(fields), table) == expected


def test_a_bare_proxy_name_is_the_program_path_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = tmp_path / "bin" / "docker-proxy"
    proxy.parent.mkdir()
    proxy.write_text("#!/bin/sh\n")
    proxy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{proxy.parent}:/nonexistent")
    assert DockerDaemon().proxy == str(proxy)  # dockerd execs the path as given
    assert DockerDaemon(proxy="docker-proxy").proxy == str(proxy)
    assert DockerDaemon(proxy="missing-proxy").proxy == "missing-proxy"  # left as declared


def test_dockerd_of_an_isolated_instance() -> None:
    docker = DockerDaemon(
        data_root="/srv/d2",
        exec_root="/run/d2",
        host="unix:///run/d2/docker.sock",
        pid_file="/run/d2/docker.pid",
        proxy="/usr/sbin/docker-proxy",
    )
    assert dockerd_command(docker, Containerd(address="/run/d2/ctd.sock")) == [
        "dockerd", "-p", "/run/d2/docker.pid",
        "--userland-proxy=true", "--userland-proxy-path=/usr/sbin/docker-proxy",
        "--iptables",
        "--containerd", "/run/d2/ctd.sock",
        "--data-root=/srv/d2", "--exec-root=/run/d2",
        "--host", "unix:///run/d2/docker.sock",
    ]  # fmt: skip


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("root", [None, "/srv/ctd"])
@pytest.mark.parametrize("state", [None, "/run/ctd"])
def test_containerd_every_flag_combination(
    debug: bool, root: str | None, state: str | None
) -> None:
    expected = ["containerd", *(["--log-level=debug"] if debug else [])]
    expected += ["--address", "/run/ctd.sock"]
    expected += ["--root", root] if root else []
    expected += ["--state", state] if state else []
    record = Containerd(debug=debug, address="/run/ctd.sock", root=root, state=state)
    assert containerd_command(record) == expected


def test_podman_service_command() -> None:
    assert podman_service_command(PodmanService(host="unix:///run/p/podman.sock")) == [
        "podman", "system", "service", "--time=0", "unix:///run/p/podman.sock",
    ]  # fmt: skip
    assert podman_service_command(
        PodmanService(podman="/usr/bin/podman", debug=True, host="/run/p.sock")
    ) == [
        "/usr/bin/podman", "--log-level=debug", "system", "service", "--time=0",
        "unix:///run/p.sock",
    ]  # fmt: skip


def test_podman_table_is_a_service_podman_containers_require() -> None:
    config = Config(
        runtime="podman",
        podman=PodmanService(host="unix:///run/p.sock"),
        networks=[Network(name="web")],
        containers=[OciContainer(image="app", provision="app", network="web")],
    )
    services = {s.name: (s.kind, s.requirement) for s in declared_services(config)}
    assert services == {
        "podman": ("podman", ()),
        "podman-network-web": ("network", ("podman",)),
        "app": ("container", ("podman", "podman-network-web")),
    }
    shown = {s["name"]: s for s in show_services(config)}
    assert shown["podman"]["argv"] == [
        "podman", "system", "service", "--time=0", "unix:///run/p.sock",
    ]  # fmt: skip
