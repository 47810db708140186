"""Reading compose files as the Compose Specification says, and the located
errors of a bad one (pure: no engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import corral as corral_package
from corral.config import load, load_text
from corral.config.compose import convert, read_project
from corral.config.compose.interpolate import InterpolationError, interpolate
from corral.errors import ConfigError

ENV = {"A": "a", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A ${A}", "a a"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${UNSET:-${A}x}", "ax"),
        ("$$A", "$A"),
        ("${A:+set}", "set"),
        ("${EMPTY+set}", "set"),
        ("${EMPTY:+set}", ""),
        ("${EMPTY?}", ""),
        ("cost $5", "cost $5"),
    ],
)
def test_interpolation(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?tell me}", "required variable UNSET is missing a value: tell me"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value: is empty or not set"),
        ("${UNSET?}", "required variable UNSET is missing a value: is not set"),
        ("${A", "invalid interpolation format"),
        ("${A:-x", "has no closing"),
        ("${-x}", "invalid interpolation format"),
    ],
)
def test_interpolation_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message.replace("?", r"\?")):
        interpolate(text, ENV)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_files_merge_in_order(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "compose.yaml",
        """
services:
  web:
    image: busybox:1
    command: ["a", "b"]
    ports: ["8080:80", "8443:443"]
    dns: [10.0.0.1]
    environment: [A=1, B=2]
    volumes: ["/srv:/data", "/logs:/logs"]
""",
    )
    over = write(
        tmp_path,
        "override.yaml",
        """
services:
  web:
    image: busybox:2
    command: ["c"]
    ports: ["8080:80"]
    dns: [10.0.0.2]
    environment: {B: "3", C: "4"}
    volumes: ["/other:/data"]
  extra:
    image: busybox:1
""",
    )
    project = read_project([base, over], environ={})
    web = project.model["services"]["web"]
    assert web["image"] == "busybox:2"
    assert web["command"] == ["c"]  # replaced, not appended
    assert web["ports"] == ["8080:80", "8443:443"]  # unique by mapping
    assert web["dns"] == ["10.0.0.1", "10.0.0.2"]  # appended
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["volumes"] == ["/other:/data", "/logs:/logs"]  # unique by target
    assert set(project.model["services"]) == {"web", "extra"}
    # each merged value is located in the file that gave it
    assert project.where(("services", "web", "image")) == (over, 4)
    assert project.where(("services", "web", "dns", 1)) == (over, 7)
    assert project.where(("services", "web", "dns", 0)) == (base, 7)


def test_dot_env_and_env_files_and_the_environment(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        "services:\n  web:\n    image: busybox:${TAG}\n    hostname: ${HOST:-none}\n",
    )
    write(tmp_path, ".env", "TAG=1\nHOST=from-dot-env\n")
    other = write(tmp_path, "other.env", "TAG=2\n")
    web = read_project([compose], environ={}).model["services"]["web"]
    assert (web["image"], web["hostname"]) == ("busybox:1", "from-dot-env")
    web = read_project([compose], env_files=[other], environ={}).model["services"]["web"]
    assert (web["image"], web["hostname"]) == ("busybox:2", "none")
    web = read_project([compose], environ={"TAG": "3"}).model["services"]["web"]
    assert web["image"] == "busybox:3"  # the process environment wins


def test_profiles(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        """
services:
  web: {image: busybox}
  debug: {image: busybox, profiles: [debug]}
  tools: {image: busybox, profiles: [tools, debug]}
""",
    )
    assert set(read_project([compose], environ={}).model["services"]) == {"web"}
    chosen = read_project([compose], profiles=["tools"], environ={})
    assert set(chosen.model["services"]) == {"web", "tools"}
    from_env = read_project([compose], environ={"COMPOSE_PROFILES": "debug"})
    assert set(from_env.model["services"]) == {"web", "debug", "tools"}


def test_extends_in_the_same_file_and_another(tmp_path: Path) -> None:
    write(
        tmp_path,
        "common/base.yaml",
        "services:\n  shared:\n    image: busybox\n    environment: {FROM: base}\n",
    )
    compose = write(
        tmp_path,
        "compose.yaml",
        """
services:
  one:
    extends: {file: common/base.yaml, service: shared}
    environment: {OWN: "1"}
  two:
    extends: one
    hostname: two
""",
    )
    services = read_project([compose], environ={}).model["services"]
    assert services["one"]["environment"] == {"FROM": "base", "OWN": "1"}
    assert services["two"]["image"] == "busybox"
    assert services["two"]["hostname"] == "two"


def test_extends_cycle_is_a_located_error(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        "services:\n  a:\n    extends: b\n  b:\n    extends: a\n    image: busybox\n",
    )
    with pytest.raises(ConfigError, match="cycle"):
        convert(read_project([compose], environ={}))


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        """
x-base: &base
  image: busybox
  hostname: base
services:
  web:
    <<: *base
    hostname: web
""",
    )
    web = read_project([compose], environ={}).model["services"]["web"]
    assert web == {"hostname": "web", "image": "busybox"}


def corral(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI of the corral under test, run in ``cwd``."""
    source = str(Path(corral_package.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k not in ("CORRAL_PROJECT", "NEEDED")}
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={**env, "PYTHONPATH": source},
    )


BAD = """services:
  web:
    image: busybox
    ports: 8080
    imagee: x
    environment:
      A: ${NEEDED:?set NEEDED first}
    stop_signal: SIGFOO
  db:
    image: busybox
    ports: ["99999:80"]
"""


@pytest.mark.parametrize("command", ["check", "show", "up"])
def test_a_bad_compose_file_is_located_exit_2(tmp_path: Path, command: str) -> None:
    (tmp_path / "compose.yaml").write_text(BAD)
    done = corral("-c", "compose.yaml", "--socket", str(tmp_path / "s.sock"), command, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    # up names the file as the daemon reads it: absolute
    assert done.stderr.replace(f"{tmp_path}/", "").splitlines() == [
        "compose.yaml:4: services.web.ports: must be a list, but 8080 was found",
        'compose.yaml:5: services.web.imagee: unknown key "imagee" (did you mean "image"?)',
        "compose.yaml:7: services.web.environment.A: required variable NEEDED is missing a "
        "value: set NEEDED first",
    ]


def test_problems_of_the_converted_records_point_at_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        BAD.replace("    ports: 8080\n", "")
        .replace("    imagee: x\n", "")
        .replace(" ${NEEDED:?set NEEDED first}", " x")
    )
    done = corral("-c", "compose.yaml", "check", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "compose.yaml:6: services.web.stop_signal: stop_signal must be a signal name like "
        'SIGTERM or a number from 1 to 64, but "SIGFOO" was found',
        'compose.yaml:9: services.db.ports[0]: "99999:80" is not a port mapping like 8080:80: '
        '"99999" is not a port or port range between 1 and 65535',
    ]


def test_invalid_yaml_is_located(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: [busybox\n")
    done = corral("-c", "compose.yml", "check", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("compose.yml:4: invalid YAML:"), done.stderr


COMPOSE = """
services:
  web:
    image: busybox
    container_name: front
    volumes: ["data:/data"]
    networks: [app]
  db:
    image: busybox
    networks:
      app: {aliases: [database]}
  job:
    image: busybox
    depends_on: [web]
networks:
  app: {}
volumes:
  data: {}
"""


def names(config_path: str, project: str | None = None) -> dict[str, object]:
    config = load(config_path, lock=False, project=project).config
    return {
        "containers": {
            c.provision: [(a.name, a.aliases) for a in c.networks] for c in config.containers
        },
        "requirement": {c.provision: c.requirement for c in config.containers},
        "networks": [n.name for n in config.networks],
        "volumes": [v.name for v in config.volumes],
        "web volumes": config.containers[0].volumes,
    }


def test_names_without_a_project(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", COMPOSE)
    assert names(path) == {
        "containers": {
            "front": [("app", ("web",))],  # the service name answers DNS too
            "db": [("app", ("database",))],
            "job": [("compose_default", ())],
        },
        "requirement": {"front": (), "db": (), "job": ("front",)},
        "networks": ["app", "compose_default"],
        "volumes": ["data"],
        "web volumes": ("data:/data",),
    }


def test_names_with_a_project_as_compose_v2_gives_them(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", COMPOSE)
    assert names(path, "shop") == {
        "containers": {
            "front": [("shop_app", ("web",))],  # container_name is kept as written
            "shop-db-1": [("shop_app", ("db", "database"))],
            "shop-job-1": [("shop_default", ("job",))],
        },
        "requirement": {"front": (), "shop-db-1": (), "shop-job-1": ("front",)},
        "networks": ["shop_app", "shop_default"],
        "volumes": ["shop_data"],
        "web volumes": ("shop_data:/data",),
    }


def test_the_project_of_a_toml_file(tmp_path: Path) -> None:
    text = """
project = "shop"
[[network]]
name = "app"
[[volume]]
name = "data"
[[container]]
provision = "web"
image = "busybox"
networks = ["app"]
volumes = ["data:/data"]
[[container]]
provision = "job"
image = "busybox"
requirement = ["web"]
network = "app"
"""
    config = load_text(text, str(tmp_path / "corral.toml")).config
    web, job = config.containers
    assert (web.provision, web.networks[0].name, web.networks[0].aliases) == (
        "shop-web-1",
        "shop_app",
        ("web",),
    )
    assert web.volumes == ("shop_data:/data",)
    assert (job.provision, job.requirement) == ("shop-job-1", ("shop-web-1",))
    assert (job.network, job.network_aliases) == ("shop_app", ("job",))
    assert [n.name for n in config.networks] == ["shop_app"]
    assert (
        load_text(text.replace('project = "shop"', ""), "c.toml").config.containers[0].provision
        == "web"
    )
    # --project (or $CORRAL_PROJECT) overrides the file's
    other = load_text(text, str(tmp_path / "corral.toml"), project="other").config
    assert other.containers[0].provision == "other-web-1"


def test_the_global_project_option(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", COMPOSE)
    done = corral("-c", "compose.yaml", "--project", "shop", "show", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"shop-job-1"' in done.stdout
