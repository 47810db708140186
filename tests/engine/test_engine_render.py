"""Golden tests for corral.render.engine (pure: no engine needed)."""

from __future__ import annotations

import json

from corral.config import OciContainer, OciImage
from corral.render.engine import (
    HASH_LABEL,
    config_hash,
    corral_labels,
    create_command,
    hash_document,
    podman_healthcheck_command,
    pull_command,
    rm_command,
    stop_command,
)

SECRET = "hunter2-very-secret"


def web(**changes: object) -> OciContainer:
    fields: dict[str, object] = {
        "image": "registry:5000/team/web:1",
        "provision": "web",
        "command": ["httpd", "-f", "-p", "80"],
        "entrypoint": "/bin/busybox",
        "environment": ["MODE=prod", ["LANG", "C.UTF-8"]],
        "host_environment": [["DB_PASSWORD", SECRET]],
        "ports": ["8080:80"],
        "volumes": [["/srv/www", "/www"]],
        "network": "bridge",
        "container_user": "1000",
        "workdir": "/www",
        "extra_arguments": ["--env", "DB_PASSWORD", "--read-only"],
        "stop_timeout": 5,
    }
    fields.update(changes)
    return OciContainer(**fields)


def test_create_command_golden() -> None:
    assert create_command(web(), "web", "docker", {"corral.service": "web", HASH_LABEL: "H"}) == [
        "docker", "create", "--name", "web",
        "--label", "corral.service=web", "--label", "corral.config-hash=H",
        "--entrypoint", "/bin/busybox",
        "--env", "MODE=prod", "--env", "LANG=C.UTF-8",
        "--network", "bridge", "--user", "1000", "--workdir", "/www",
        "-p", "8080:80", "-v", "/srv/www:/www",
        "--stop-timeout", "5",
        "--env", "DB_PASSWORD", "--read-only",
        "registry:5000/team/web:1", "httpd", "-f", "-p", "80",
    ]  # fmt: skip


def test_create_command_default_labels_and_minimal_podman() -> None:
    minimal = OciContainer(image="localhost/app")
    argv = create_command(minimal, "podman-app", "podman")
    hash_ = config_hash(minimal, "podman")
    assert argv == [
        "podman", "create", "--name", "podman-app",
        "--label", "corral.service=podman-app", "--label", f"corral.config-hash={hash_}",
        "localhost/app",
    ]  # fmt: skip
    assert "--rm" not in argv


def test_create_command_never_carries_a_secret() -> None:
    assert not any(SECRET in arg for arg in create_command(web(), "web", "docker"))


def test_config_hash_is_stable_and_changes_with_what_shapes_the_container() -> None:
    base = config_hash(web(), "docker")
    assert len(base) == 64 and int(base, 16) >= 0
    assert config_hash(web(), "docker") == base
    changed = [
        web(environment=["MODE=dev"]),
        web(image="registry:5000/team/web:2"),
        web(host_environment=[["DB_PASSWORD", "rotated"]]),
        web(command=["httpd"]),
        web(health_cmd="true"),
    ]
    assert all(config_hash(c, "docker") != base for c in changed)
    assert config_hash(web(), "podman") != base
    assert config_hash(web(), "docker", image_id="sha256:1") != base
    # Supervision-only fields never recreate a container.
    same = [web(respawn=True), web(requirement=["db"]), web(log_file="/tmp/x"), web(user="u")]
    assert all(config_hash(c, "docker") == base for c in same)


def test_config_hash_document_hides_the_secret() -> None:
    document = json.dumps(hash_document(web(), "docker"))
    assert SECRET not in document and "host_environment" in document
    image = OciImage(repository="localhost/web", tarball="/tmp/web.tar")
    assert config_hash(web(image=image), "docker") != config_hash(web(), "docker")


def test_small_commands_golden() -> None:
    assert corral_labels("web", "H") == {"corral.service": "web", "corral.config-hash": "H"}
    assert stop_command("docker", "web", 10) == ["docker", "stop", "--time", "10", "web"]
    assert stop_command("podman", "web", 2.6) == ["podman", "stop", "--time", "3", "web"]
    assert rm_command("docker", "web") == ["docker", "rm", "--volumes", "web"]
    assert rm_command("docker", "web", force=True) == [
        "docker",
        "rm",
        "--volumes",
        "--force",
        "web",
    ]
    assert rm_command("podman", "web", force=True) == [
        "podman", "rm", "--volumes", "--force", "--time", "0", "web",
    ]  # fmt: skip
    assert pull_command("docker", "busybox") == ["docker", "pull", "busybox"]
    assert podman_healthcheck_command("web") == ["podman", "healthcheck", "run", "web"]
