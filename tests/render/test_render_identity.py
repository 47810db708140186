"""corral's labels and config hash, and the create line that carries them (pure)."""

from __future__ import annotations

import json

from corral.config import OciContainer, OciImage
from corral.render import container_spec, create_argv
from corral.render.commands import podman_healthcheck_command
from corral.render.identity import HASH_LABEL, config_hash, corral_labels, hash_document
from corral.runtimes import Runtime

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


def create_command(
    container: OciContainer, name: str, runtime: Runtime, labels: dict[str, str] | None = None
) -> list[str]:
    if labels is None:
        labels = corral_labels(name, config_hash(container, runtime))
    return create_argv(container_spec(container, name, runtime, labels))


def test_create_command_golden() -> None:
    assert create_command(web(), "web", "docker", {"corral.service": "web", HASH_LABEL: "H"}) == [
        "docker", "create", "--name", "web",
        "--entrypoint", "/bin/busybox",
        "--env", "MODE=prod", "--env", "LANG=C.UTF-8",
        "--network", "bridge", "--user", "1000", "--workdir", "/www",
        "-p", "8080:80", "-v", "/srv/www:/www",
        "--label", "corral.service=web", "--label", "corral.config-hash=H",
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


def test_corral_labels_win_over_declared_ones_and_engine_options_come_first() -> None:
    container = web(labels={"team": "ops"}, extra_arguments=[])
    labels = corral_labels("web", "H", "/var/lib/corral")
    argv = create_argv(container_spec(container, "web", "docker", labels), ("-H", "unix:///x"))
    assert argv[:5] == ["docker", "-H", "unix:///x", "create", "--name"]
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--label"] == [
        "team=ops", "corral.service=web", "corral.config-hash=H",
        "corral.instance=/var/lib/corral",
    ]  # fmt: skip


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
    assert podman_healthcheck_command("web") == ["podman", "healthcheck", "run", "web"]


def test_a_field_added_at_its_default_changes_no_hash() -> None:
    """Only values that differ from a field's default enter the hash, so a
    field corral adds later leaves every existing container's hash alone."""
    document = hash_document(OciContainer(image="localhost/app"), "docker")
    assert document["container"] == {"image": "localhost/app"}
    explicit = OciContainer(image="localhost/app", stop_timeout=10, health_retries=3)
    assert config_hash(explicit, "docker") == config_hash(
        OciContainer(image="localhost/app"), "docker"
    )
