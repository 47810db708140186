"""`plan` reads what a change does from the fields themselves: for a container,
a change restarts it exactly when it changes the container's config hash."""

from __future__ import annotations

from typing import Any

import pytest

from corral.config import Config, OciContainer, Process, declared_services
from corral.render.identity import config_hash
from corral.supervisor.plan import plan

BASE: dict[str, Any] = {"image": "localhost/web:1", "provision": "web"}

#: A changed value for each field of a container (any that differs will do).
CHANGED: dict[str, Any] = {
    "user": "nobody", "group": "nogroup", "command": ["httpd"], "entrypoint": "/bin/sh",
    "host_environment": ["T=1"], "environment": ["A=1"], "image": "localhost/web:2",
    "pull": "always",
    "provision": None, "requirement": ["db"], "log_file": "/tmp/web.log", "auto_start": False,
    "respawn": True, "actions": [{"name": "hi", "command": ["true"]}], "network": "backend",
    "ports": ["8080:80"], "volumes": ["/srv:/srv"], "container_user": "1000",
    "workdir": "/w", "extra_arguments": ["--init"], "stop_signal": "SIGQUIT",
    "stop_timeout": 3, "labels": {"a": "b"}, "hostname": "h", "health_cmd": "true",
    "health_interval": 5, "health_timeout": 5, "health_retries": 5,
    "health_start_period": 5, "on_unhealthy": "restart", "respawn_limit": [3, 10],
    "respawn_delay": 1, "read_only": True, "expose": ["9000"], "memory": "64m",
    "memory_reservation": "32m", "memory_swap": "128m", "cpus": 0.5, "cpu_shares": 512,
    "cpuset": "0", "pids_limit": 64, "shm_size": "64m", "oom_score_adj": 100,
    "ulimits": {"nofile": [1024, 2048]}, "cap_add": ["NET_ADMIN"], "cap_drop": ["ALL"],
    "security_opt": ["seccomp=unconfined"], "privileged": True, "no_new_privileges": True,
    "init": True, "tmpfs": ["/scratch"], "devices": ["/dev/null"], "sysctls": {"a.b": "1"},
    "group_add": ["100"], "userns": "host", "dns": ["1.1.1.1"], "dns_search": ["x"],
    "dns_options": ["ndots:2"], "extra_hosts": ["a:1.2.3.4"], "domainname": "d",
    "mac_address": "02:42:ac:11:00:02", "platform": "linux/amd64", "stdin_open": True,
    "tty": True, "networks": ["front", "back"], "network_aliases": ["www"],
    "env_files": ["/etc/hostname"],
    "secrets": [{"source": "/etc/hostname", "target": "/run/secrets/x"}],
    "respawn_on": "failure", "one_shot": True, "health_start_interval": 1,
}  # fmt: skip


def services(container: OciContainer) -> list[Any]:
    extra = [Process(name="db", command=["true"])]
    return declared_services(Config(containers=[container], processes=extra))


def test_every_container_field_has_a_changed_value_here() -> None:
    assert set(CHANGED) == set(OciContainer.model_fields)


@pytest.mark.parametrize("name", sorted(set(CHANGED) - {"provision"}))
def test_a_container_restarts_exactly_when_its_hash_changes(name: str) -> None:
    # on_unhealthy = "restart" needs a health check and respawn on both sides
    base = {**BASE, "health_cmd": "true", "respawn": True} if name == "on_unhealthy" else BASE
    if name == "network_aliases":
        base = {**base, "network": "front"}  # aliases are on the declared network
    if name == "health_start_interval":
        base = {**base, "health_cmd": ["true"]}  # exec form: it times the check's start
    if name in ("memory_reservation", "memory_swap"):
        base = {**base, "memory": "256m"}  # they need a memory limit to hold together
    before, after = OciContainer(**base), OciContainer(**{**base, name: CHANGED[name]})
    changes = [c for c in plan(services(before), services(after)) if c.name == "web"]
    assert len(changes) == 1
    recreated = config_hash(before, "docker") != config_hash(after, "docker")
    assert changes[0].op == ("restart" if recreated else "update"), changes[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("health_cmd", ["/bin/check", "--quick"]),
        ("image", {"repository": "localhost/web", "build": {"context": "/srv/web"}}),
    ],
)
def test_the_other_forms_of_a_field_recreate_too(name: str, value: Any) -> None:
    """health_cmd's exec form against its shell form; a Dockerfile build against a
    pulled image, and a build's args changed: each is a new container."""
    shell = {**BASE, "health_cmd": "true"}
    before, after = OciContainer(**shell), OciContainer(**{**shell, name: value})
    assert config_hash(before, "docker") != config_hash(after, "docker")
    assert [c.op for c in plan(services(before), services(after)) if c.name == "web"] == ["restart"]
    if name == "image":
        args = {"repository": "localhost/web", "build": {"context": "/srv/web", "args": {"V": "2"}}}
        again = OciContainer(**{**shell, name: args})
        assert config_hash(after, "docker") != config_hash(again, "docker")


def test_a_process_restarts_for_its_command_not_its_respawn() -> None:
    def of(**fields: Any) -> list[Any]:
        record = Process(**{"name": "p", "command": ["a"], **fields})
        return declared_services(Config(processes=[record]))

    assert [c.op for c in plan(of(), of(command=["b"]))] == ["restart"]
    assert [c.op for c in plan(of(), of(respawn=True))] == ["update"]
