"""A Python configuration: same records, same validation, its own line numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.config import OciContainer, load
from corral.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "corral.py"
    path.write_text(text)
    return str(path)


def problems(path: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return [str(p) for p in caught.value.problems]


def test_valid_python_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from corral import Config, OciContainer, OciImage, Action, Network, Volume\n"
        "config = Config(\n"
        "    networks=[Network(name='web')],\n"
        "    containers=[\n"
        "        OciContainer(image='busybox', ports=[('8080', '80')],\n"
        "                     environment=[('A', 'B')],\n"
        "                     actions=[Action(name='hi', command=['echo', 'hi'])]),\n"
        "    ],\n"
        ")\n",
    )
    loaded = load(path)
    container = loaded.config.containers[0]
    assert isinstance(container, OciContainer)
    assert container.ports == ("8080:80",)
    assert container.environment == ("A=B",)


def test_record_error_points_at_the_member(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from corral import Config, OciContainer\n"
        "\n"
        "config = Config(\n"
        "    containers=[\n"
        "        OciContainer(image='a'),\n"
        "        OciContainer(\n"
        "            image='b',\n"
        "            ports=[\n"
        "                '8080:80',\n"
        "                42,\n"
        "            ],\n"
        "        ),\n"
        "    ],\n"
        ")\n",
    )
    assert problems(path) == [
        f"{path}:10: containers[1].ports[1]: ports members must be a string or a pair, "
        "but 42 was found"
    ]


def test_whole_config_errors_point_at_records(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from corral import Config, OciContainer\n"
        "web = OciContainer(image='localhost/web:1', ports=['8080:80'])\n"
        "others = [OciContainer(image=f'localhost/app{i}', requirement=['nothing']) "
        "for i in range(1)]\n"
        "config = Config(\n"
        "    containers=[\n"
        "        web,\n"
        "        *others,\n"
        "        OciContainer(image='b',\n"
        "                     ports=['8080:81'])\n"
        "    ],\n"
        ")\n",
    )
    assert problems(path) == [
        f'{path}:3: containers[1].requirement[0]: requirement "nothing" names no service',
        f"{path}:9: containers[2].ports[0]: host port 8080/tcp on every address is already "
        "published by containers[0].ports[0]",
    ]


def test_user_code_error_has_a_line_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "from corral import Config\nx = 1\nconfig = Config(runtime=undefined)\n")
    assert problems(path) == [f"{path}:3: NameError: name 'undefined' is not defined"]


def test_config_variable_required(tmp_path: Path) -> None:
    path = write(tmp_path, "conf = 1\n")
    assert problems(path) == [
        f"{path}: a Python configuration must set `config = Config(...)`, but nothing was found"
    ]


def test_python_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "config = (\n")
    assert problems(path)[0].startswith(f"{path}:1: invalid Python:")


def test_secret_not_in_python_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from corral import Config, OciContainer\n"
        "config = Config(containers=[OciContainer(image='a',\n"
        "    host_environment=[('TOKEN', 'hunter2', 'x')])])\n",
    )
    shown = problems(path)
    assert len(shown) == 1 and "containers[0].host_environment[0]" in shown[0]
    assert "hunter2" not in shown[0]


def test_relative_image_paths_are_anchored_at_the_config_file(tmp_path: Path) -> None:
    from corral.config import OciImage, load_text

    text = (
        "[[container]]\n"
        'image = { repository = "r", files = ["www:/www", "/etc/hosts"], '
        'programs = ["bin/tool", "busybox"], rootfs = "root" }\n'
    )
    (tmp_path / "corral.toml").write_text(text)
    image = load(str(tmp_path / "corral.toml")).config.containers[0].image
    assert isinstance(image, OciImage)
    assert image.files == ((f"{tmp_path}/www", "/www"), ("/etc/hosts", "/etc/hosts"))
    assert image.programs == ((f"{tmp_path}/bin/tool", "bin/tool"), ("busybox", "busybox"))
    assert image.rootfs == f"{tmp_path}/root"
    relative = load_text(text, "corral.toml").config.containers[0].image
    assert isinstance(relative, OciImage) and relative.rootfs == str(Path("root").absolute())


def test_run_option_errors_point_at_the_keyword(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from corral import Config, OciContainer\n"
        "config = Config(\n"
        "    containers=[\n"
        "        OciContainer(image='a',\n"
        "                     userns='keep-id'),\n"
        "        OciContainer(image='b', memory='1g',\n"
        "                     memory_swap='512m'),\n"
        "    ],\n"
        ")\n",
    )
    assert problems(path) == [
        f'{path}:5: containers[0].userns: runtime "docker" cannot honour userns = "keep-id" '
        '("keep-id" is podman\'s); it takes "host"',
        f"{path}:7: containers[1].memory_swap: memory_swap (536870912 bytes) must be at least "
        "memory (1073741824 bytes): it counts memory plus swap",
    ]
    bad = write(
        tmp_path,
        "from corral import Config, OciContainer\n"
        "config = Config(containers=[OciContainer(image='a', cap_drop=['FLY'])])\n",
    )
    assert problems(bad) == [
        f'{bad}:2: containers[0].cap_drop[0]: "FLY" is not a Linux capability '
        "(like NET_ADMIN or CAP_NET_ADMIN, or ALL)"
    ]


def test_relative_and_home_bind_sources_are_anchored_as_compose_does(tmp_path: Path) -> None:
    import pwd

    home = pwd.getpwuid(os.getuid()).pw_dir
    (tmp_path / "corral.toml").write_text(
        "[[container]]\n"
        'image = "a"\n'
        'volumes = ["./data:/data", ["../up", "/up"], "~/cache:/cache:ro", "~:/home", '
        '"named:/named", "/abs:/abs", "/anonymous", "./:/here"]\n'
    )
    volumes = load(str(tmp_path / "corral.toml")).config.containers[0].volumes
    assert volumes == (
        f"{tmp_path}/data:/data",
        f"{tmp_path.parent}/up:/up",
        f"{home}/cache:/cache:ro",
        f"{home}:/home",
        "named:/named",
        "/abs:/abs",
        "/anonymous",
        f"{tmp_path}:/here",
    )


def test_env_files_and_secret_sources_are_anchored_at_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "corral.toml").write_text(
        "[[container]]\n"
        'image = "a"\n'
        'env_files = ["app.env", "/etc/abs.env"]\n'
        'secrets = [{ source = "./db.pass", target = "/s" }, { command = ["x"], target = "/t" }]\n'
    )
    container = load(str(tmp_path / "corral.toml")).config.containers[0]
    assert container.env_files == (f"{tmp_path}/app.env", "/etc/abs.env")
    assert [s.source for s in container.secrets] == [f"{tmp_path}/db.pass", None]
