"""Golden renderings of the container spec: for every run option, the CLI's
words and the Engine API document, on both runtimes (pure: no engine)."""

from __future__ import annotations

from typing import Any

import pytest

from corral.config import OciContainer
from corral.render import container_spec, create_argv, create_document
from corral.render.container import connect_argvs, connect_documents, create_query
from corral.render.spec import FLAG_FIELDS, RUN_OPTIONS, duplicated_arguments
from corral.runtimes import RUNTIMES, Runtime

LABELS = {"corral.service": "web", "corral.config-hash": "H"}
#: What the env files of the env_files case hold, as the runner read them at start.
ENV_PAIRS = (("TOKEN", "s3cr=t"), ("MODE", "file"), ("MULTI", "a\nb"))

#: One declaration per run option: the field's value, its CLI words, its API entries.
CASES: dict[str, tuple[dict[str, Any], list[str], dict[str, Any]]] = {
    "entrypoint": (
        {"entrypoint": "/bin/busybox"},
        ["--entrypoint", "/bin/busybox"],
        {"Entrypoint": ["/bin/busybox"]},
    ),
    "environment": (
        {"environment": ["MODE=prod", ["LANG", "C.UTF-8"], "EMPTY="]},
        ["--env", "MODE=prod", "--env", "LANG=C.UTF-8", "--env", "EMPTY="],
        {"Env": ["MODE=prod", "LANG=C.UTF-8", "EMPTY="]},
    ),
    "network": (
        {"network": "backend"},
        ["--network", "backend"],
        {"HostConfig": {"NetworkMode": "backend"}},
    ),
    "container_user": (
        {"container_user": "1000:1000"}, ["--user", "1000:1000"], {"User": "1000:1000"},
    ),
    "workdir": ({"workdir": "/www"}, ["--workdir", "/www"], {"WorkingDir": "/www"}),
    "ports": (
        {"ports": ["8080:80", ["127.0.0.1:8443", "443"], "0.0.0.0:53:53/udp", "9000",
                   "[::1]::22"]},
        ["-p", "8080:80", "-p", "127.0.0.1:8443:443", "-p", "53:53/udp", "-p", "9000",
         "-p", "[::1]::22"],
        {
            "ExposedPorts": {"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "9000/tcp": {},
                             "22/tcp": {}},
            "HostConfig": {
                "PortBindings": {
                    "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                    "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}],
                    "53/udp": [{"HostIp": "", "HostPort": "53"}],
                    "9000/tcp": [{"HostIp": "", "HostPort": ""}],
                    "22/tcp": [{"HostIp": "::1", "HostPort": ""}],
                }
            },
        },
    ),
    "ports (ranges)": (
        {"ports": ["9000-9001:80-81", "7000-7009:22"]},
        ["-p", "9000-9001:80-81", "-p", "7000-7009:22"],
        {
            "ExposedPorts": {"80/tcp": {}, "81/tcp": {}, "22/tcp": {}},
            "HostConfig": {
                "PortBindings": {
                    "80/tcp": [{"HostIp": "", "HostPort": "9000"}],
                    "81/tcp": [{"HostIp": "", "HostPort": "9001"}],
                    "22/tcp": [{"HostIp": "", "HostPort": "7000-7009"}],
                }
            },
        },
    ),
    "volumes": (
        {"volumes": [["/srv/www", "/www"], "data:/var/lib/db", "/etc/hosts:/etc/hosts:ro",
                     "/cache"]},
        ["-v", "/srv/www:/www", "-v", "data:/var/lib/db", "-v", "/etc/hosts:/etc/hosts:ro",
         "-v", "/cache"],
        {
            "HostConfig": {
                "Binds": ["/srv/www:/www", "data:/var/lib/db", "/etc/hosts:/etc/hosts:ro"]
            },
            "Volumes": {"/cache": {}},
        },
    ),
    "labels": (
        {"labels": {"team": "ops", "tier": "front"}},
        ["--label", "team=ops", "--label", "tier=front"],
        {"Labels": {"team": "ops", "tier": "front"}},
    ),
    "hostname": ({"hostname": "web1"}, ["--hostname", "web1"], {"Hostname": "web1"}),
    "stop_signal": (
        {"stop_signal": "QUIT"}, ["--stop-signal", "SIGQUIT"], {"StopSignal": "SIGQUIT"},
    ),
    "stop_timeout": ({"stop_timeout": 30}, ["--stop-timeout", "30"], {"StopTimeout": 30}),
    "health_cmd": (
        {
            "health_cmd": "wget -q -O- http://127.0.0.1/ || exit 1",
            "health_interval": 5,
            "health_timeout": 2.5,
            "health_retries": 4,
            "health_start_period": 0.5,
        },
        ["--health-cmd", "wget -q -O- http://127.0.0.1/ || exit 1", "--health-interval", "5s",
         "--health-timeout", "2.5s", "--health-retries", "4", "--health-start-period", "500ms"],
        {
            "Healthcheck": {
                "Test": ["CMD-SHELL", "wget -q -O- http://127.0.0.1/ || exit 1"],
                "Interval": 5_000_000_000,
                "Timeout": 2_500_000_000,
                "Retries": 4,
                "StartPeriod": 500_000_000,
            }
        },
    ),
    "networks": (
        {"networks": [{"name": "front", "aliases": ["web", "www"], "ipv4_address": "10.1.0.5",
                       "ipv6_address": "fd00::5"}, "back", {"name": "admin", "aliases": ["w"]}]},
        ["--network", "front", "--network-alias", "web", "--network-alias", "www",
         "--ip", "10.1.0.5", "--ip6", "fd00::5"],
        {
            "HostConfig": {"NetworkMode": "front"},
            "NetworkingConfig": {"EndpointsConfig": {"front": {
                "Aliases": ["web", "www"],
                "IPAMConfig": {"IPv4Address": "10.1.0.5", "IPv6Address": "fd00::5"},
            }}},
        },
    ),
    "networks (one, bare)": (
        {"networks": ["back"]},
        ["--network", "back"],
        {"HostConfig": {"NetworkMode": "back"},
         "NetworkingConfig": {"EndpointsConfig": {"back": {}}}},
    ),
    "env_files": (
        {"env_files": ["/etc/app.env", "/etc/more.env"], "environment": ["MODE=prod"]},
        ["--env", "MODE=prod", "--env-file", "/etc/app.env", "--env-file", "/etc/more.env"],
        # the values the runner read from the files; `environment` wins (MODE)
        {"Env": ["TOKEN=s3cr=t", "MULTI=a\nb", "MODE=prod"]},
    ),
    "secrets": (
        {"secrets": [{"source": "/etc/db.pass", "target": "/run/secrets/db"},
                     {"command": ["pass", "show", "api"], "target": "/etc/api.key",
                      "mode": "0440", "uid": 1000, "gid": 1000}]},
        ["--mount", "type=bind,source=<corral secrets>/web/0,target=/run/secrets/db,readonly",
         "--mount", "type=bind,source=<corral secrets>/web/1,target=/etc/api.key,readonly"],
        {"HostConfig": {"Mounts": [
            {"Type": "bind", "Source": "<corral secrets>/web/0", "Target": "/run/secrets/db",
             "ReadOnly": True},
            {"Type": "bind", "Source": "<corral secrets>/web/1", "Target": "/etc/api.key",
             "ReadOnly": True},
        ]}},
    ),
    "network_aliases": (
        {"network": "back", "network_aliases": ["db", "pg"]},
        ["--network", "back", "--network-alias", "db", "--network-alias", "pg"],
        {"HostConfig": {"NetworkMode": "back"},
         "NetworkingConfig": {"EndpointsConfig": {"back": {"Aliases": ["db", "pg"]}}}},
    ),
    "read_only": (
        {"read_only": True}, ["--read-only"], {"HostConfig": {"ReadonlyRootfs": True}},
    ),
    "expose": (
        {"expose": [8080, "53/udp", "9000-9001"]},
        ["--expose", "8080/tcp", "--expose", "53/udp", "--expose", "9000-9001/tcp"],
        {"ExposedPorts": {"8080/tcp": {}, "53/udp": {}, "9000/tcp": {}, "9001/tcp": {}}},
    ),
    "expose (with ports)": (
        {"ports": ["8080:80"], "expose": ["81"]},
        ["-p", "8080:80", "--expose", "81/tcp"],
        {"ExposedPorts": {"80/tcp": {}, "81/tcp": {}},
         "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}}},
    ),
    "memory": (
        {"memory": "512m"}, ["--memory", "536870912"], {"HostConfig": {"Memory": 536870912}},
    ),
    "memory_reservation": (
        {"memory_reservation": "1024k"}, ["--memory-reservation", "1048576"],
        {"HostConfig": {"MemoryReservation": 1048576}},
    ),
    "memory_swap": (
        {"memory": 1 << 30, "memory_swap": "2g"},
        ["--memory", "1073741824", "--memory-swap", "2147483648"],
        {"HostConfig": {"Memory": 1 << 30, "MemorySwap": 2 << 30}},
    ),
    "memory_swap (unlimited)": (
        {"memory": "1g", "memory_swap": -1},
        ["--memory", "1073741824", "--memory-swap", "-1"],
        {"HostConfig": {"Memory": 1 << 30, "MemorySwap": -1}},
    ),
    "cpus": ({"cpus": 1.5}, ["--cpus", "1.5"], {"HostConfig": {"NanoCpus": 1_500_000_000}}),
    "cpus (whole)": ({"cpus": 2}, ["--cpus", "2"], {"HostConfig": {"NanoCpus": 2_000_000_000}}),
    "cpu_shares": (
        {"cpu_shares": 512}, ["--cpu-shares", "512"], {"HostConfig": {"CpuShares": 512}},
    ),
    "cpuset": (
        {"cpuset": "0-1,3"}, ["--cpuset-cpus", "0-1,3"], {"HostConfig": {"CpusetCpus": "0-1,3"}},
    ),
    "pids_limit": ({"pids_limit": 64}, ["--pids-limit", "64"], {"HostConfig": {"PidsLimit": 64}}),
    "shm_size": (
        {"shm_size": "64m"}, ["--shm-size", "67108864"], {"HostConfig": {"ShmSize": 1 << 26}},
    ),
    "oom_score_adj": (
        {"oom_score_adj": -500}, ["--oom-score-adj", "-500"], {"HostConfig": {"OomScoreAdj": -500}},
    ),
    "oom_score_adj (zero)": (
        {"oom_score_adj": 0}, ["--oom-score-adj", "0"], {"HostConfig": {"OomScoreAdj": 0}},
    ),
    "ulimits": (
        {"ulimits": {"nofile": [1024, 4096], "nproc": 512}},
        ["--ulimit", "nofile=1024:4096", "--ulimit", "nproc=512:512"],
        {"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 4096},
                                    {"Name": "nproc", "Soft": 512, "Hard": 512}]}},
    ),
    "cap_add": (
        {"cap_add": ["net_admin", "CAP_SYS_TIME"]},
        ["--cap-add", "CAP_NET_ADMIN", "--cap-add", "CAP_SYS_TIME"],
        {"HostConfig": {"CapAdd": ["CAP_NET_ADMIN", "CAP_SYS_TIME"]}},
    ),
    "cap_drop": (
        {"cap_drop": ["ALL"]}, ["--cap-drop", "ALL"], {"HostConfig": {"CapDrop": ["ALL"]}},
    ),
    "security_opt": (
        {"security_opt": ["seccomp=unconfined"]}, ["--security-opt", "seccomp=unconfined"],
        {"HostConfig": {"SecurityOpt": ["seccomp=unconfined"]}},
    ),
    "privileged": ({"privileged": True}, ["--privileged"], {"HostConfig": {"Privileged": True}}),
    "no_new_privileges": (
        {"no_new_privileges": True, "security_opt": ["label=disable"]},
        ["--security-opt", "label=disable", "--security-opt", "no-new-privileges:true"],
        {"HostConfig": {"SecurityOpt": ["label=disable", "no-new-privileges:true"]}},
    ),
    "init": ({"init": True}, ["--init"], {"HostConfig": {"Init": True}}),
    "tmpfs": (
        {"tmpfs": ["/run", "/tmp:size=64m,mode=1777"]},
        ["--tmpfs", "/run", "--tmpfs", "/tmp:size=64m,mode=1777"],
        {"HostConfig": {"Tmpfs": {"/run": "", "/tmp": "size=64m,mode=1777"}}},
    ),
    "devices": (
        {"devices": ["/dev/fuse", "/dev/sda:/dev/xvda:r"]},
        ["--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r"],
        {"HostConfig": {"Devices": [
            {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
            {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvda", "CgroupPermissions": "r"},
        ]}},
    ),
    "sysctls": (
        {"sysctls": {"net.core.somaxconn": 1024}}, ["--sysctl", "net.core.somaxconn=1024"],
        {"HostConfig": {"Sysctls": {"net.core.somaxconn": "1024"}}},
    ),
    "group_add": (
        {"group_add": ["audio", "1001"]}, ["--group-add", "audio", "--group-add", "1001"],
        {"HostConfig": {"GroupAdd": ["audio", "1001"]}},
    ),
    "userns": ({"userns": "host"}, ["--userns", "host"], {"HostConfig": {"UsernsMode": "host"}}),
    "dns": (
        {"dns": ["1.1.1.1", "2001:4860:4860::8888"]},
        ["--dns", "1.1.1.1", "--dns", "2001:4860:4860::8888"],
        {"HostConfig": {"Dns": ["1.1.1.1", "2001:4860:4860::8888"]}},
    ),
    "dns_search": (
        {"dns_search": ["example.org"]}, ["--dns-search", "example.org"],
        {"HostConfig": {"DnsSearch": ["example.org"]}},
    ),
    "dns_options": (
        {"dns_options": ["ndots:2"]}, ["--dns-option", "ndots:2"],
        {"HostConfig": {"DnsOptions": ["ndots:2"]}},
    ),
    "extra_hosts": (
        {"extra_hosts": ["db:10.0.0.5", ["gw", "host-gateway"]]},
        ["--add-host", "db:10.0.0.5", "--add-host", "gw:host-gateway"],
        {"HostConfig": {"ExtraHosts": ["db:10.0.0.5", "gw:host-gateway"]}},
    ),
    "domainname": (
        {"domainname": "example.org"}, ["--domainname", "example.org"],
        {"Domainname": "example.org"},
    ),
    "mac_address": (
        {"mac_address": "02:42:AC:11:00:02"}, ["--mac-address", "02:42:ac:11:00:02"],
        {"MacAddress": "02:42:ac:11:00:02"},
    ),
    "mac_address (network)": (
        {"mac_address": "02:42:ac:11:00:02", "network": "backend"},
        ["--network", "backend", "--mac-address", "02:42:ac:11:00:02"],
        {"MacAddress": "02:42:ac:11:00:02",
         "HostConfig": {"NetworkMode": "backend"},
         "NetworkingConfig": {"EndpointsConfig": {"backend": {"MacAddress": "02:42:ac:11:00:02"}}}},
    ),
    "mac_address (host network)": (
        {"mac_address": "02:42:ac:11:00:02", "network": "host"},
        ["--network", "host", "--mac-address", "02:42:ac:11:00:02"],
        {"MacAddress": "02:42:ac:11:00:02", "HostConfig": {"NetworkMode": "host"}},
    ),
    "platform": (
        {"platform": "linux/arm64"}, ["--platform", "linux/arm64"], {"?platform": "linux/arm64"},
    ),
    "stdin_open": ({"stdin_open": True}, ["--interactive"], {"OpenStdin": True}),
    "tty": ({"tty": True}, ["--tty"], {"Tty": True}),
}  # fmt: skip


def test_every_run_option_has_a_golden_case() -> None:
    covered = {name.split(" ")[0] for name in CASES}
    assert covered == {option.name for option in RUN_OPTIONS}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_cli_words_and_api_document(case: str, runtime: Runtime) -> None:
    fields, words, entries = CASES[case]
    container = OciContainer(image="localhost/web:1", command=["httpd"], **fields)
    spec = container_spec(container, "web", runtime, LABELS, ENV_PAIRS)
    label_words = ["--label", "corral.service=web", "--label", "corral.config-hash=H"]
    argv = create_argv(spec)
    assert argv[:4] == [runtime, "create", "--name", "web"]
    assert argv[-2:] == ["localhost/web:1", "httpd"]
    middle = argv[4:-2]
    if case == "labels":
        assert middle == [*words, *label_words]
    else:
        cut = middle.index("--label")
        assert [*middle[:cut], *middle[cut + 4 :]] == words
        assert middle[cut : cut + 4] == label_words
    expected: dict[str, Any] = {"Image": "localhost/web:1", "Env": [], "Cmd": ["httpd"]}
    query = {k[1:]: v for k, v in entries.items() if k.startswith("?")}
    assert create_query(spec) == {"name": "web", **query}
    expected.update({k: v for k, v in entries.items() if not k.startswith("?")})
    expected["Labels"] = {**entries.get("Labels", {}), **LABELS}
    assert create_document(spec) == expected


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_later_networks_are_connected_before_start(runtime: Runtime) -> None:
    fields = CASES["networks"][0]
    spec = container_spec(OciContainer(image="busybox", **fields), "web", runtime)
    assert connect_argvs(spec, ["--host", "unix:///x.sock"]) == [
        [runtime, "--host", "unix:///x.sock", "network", "connect", "back", "web"],
        [runtime, "--host", "unix:///x.sock", "network", "connect", "--alias", "w", "admin",
         "web"],
    ]  # fmt: skip
    assert connect_documents(spec, "c0ffee") == [
        ("back", {"Container": "c0ffee", "EndpointConfig": {}}),
        ("admin", {"Container": "c0ffee", "EndpointConfig": {"Aliases": ["w"]}}),
    ]
    one = container_spec(OciContainer(image="busybox", networks=["back"]), "web", runtime)
    assert connect_argvs(one) == [] and connect_documents(one, "c0ffee") == []


def test_entrypoint_alone_clears_the_image_command_as_the_cli_does() -> None:
    spec = container_spec(OciContainer(image="busybox", entrypoint="/bin/sh"), "b", "docker")
    assert create_document(spec) == {
        "Image": "busybox", "Labels": {}, "Env": [], "Cmd": [], "Entrypoint": ["/bin/sh"],
    }  # fmt: skip


def test_minimal_spec_renders_minimal_document_and_line() -> None:
    spec = container_spec(OciContainer(image="busybox"), "docker-busybox", "docker")
    assert create_argv(spec) == ["docker", "create", "--name", "docker-busybox", "busybox"]
    assert create_document(spec) == {"Image": "busybox", "Labels": {}, "Env": []}


def test_what_only_the_cli_can_say_has_no_document() -> None:
    extra = container_spec(OciContainer(image="busybox", extra_arguments=["--init"]), "b", "docker")
    assert extra.cli_only is not None and create_document(extra) is None
    assert create_argv(extra)[-2:] == ["--init", "busybox"]
    bare = container_spec(OciContainer(image="busybox", environment=["TOKEN"]), "b", "podman")
    assert bare.cli_only is not None and create_document(bare) is None
    assert create_argv(bare) == ["podman", "create", "--name", "b", "--env", "TOKEN", "busybox"]


def test_entrypoint_with_a_command_keeps_the_command() -> None:
    container = OciContainer(image="busybox", entrypoint="/bin/sh", command=["-c", "true"])
    document = create_document(container_spec(container, "b", "docker"))
    assert document is not None
    assert document["Entrypoint"] == ["/bin/sh"] and document["Cmd"] == ["-c", "true"]


def test_every_table_flag_in_extra_arguments_names_its_field() -> None:
    for option in RUN_OPTIONS:
        words = [option.flag] if not option.takes_value else [option.flag, "x=1"]
        (found,) = duplicated_arguments(words)
        expected = "security_opt" if option.name == "no_new_privileges" else option.name
        sharing = FLAG_FIELDS[option.flag]  # --network says network, or networks
        assert found == (0, option.flag, expected if len(sharing) == 1 else sharing[0])
        assert expected in sharing


def test_duplicated_arguments_reads_inline_values_other_spellings_and_bundles() -> None:
    assert duplicated_arguments(["--env", "TOKEN", "-e", "A=1"]) == [(2, "-e", "environment")]
    words = ["--memory=1g", "-m", "2g", "--security-opt=no-new-privileges", "-it", "--gpus",
             "all", "--oom-score-adj", "-500"]  # fmt: skip
    assert duplicated_arguments(words) == [
        (0, "--memory", "memory"),
        (1, "-m", "memory"),
        (3, "--security-opt", "no_new_privileges"),
        (4, "-i", "stdin_open"),
        (4, "-t", "tty"),
        (7, "--oom-score-adj", "oom_score_adj"),
    ]


def test_env_files_values_are_not_in_the_words_and_need_reading_for_the_api() -> None:
    container = OciContainer(image="busybox", env_files=["/etc/app.env"])
    spec = container_spec(container, "b", "docker")
    assert create_argv(spec) == ["docker", "create", "--name", "b", "--env-file", "/etc/app.env",
                                 "busybox"]  # fmt: skip
    with pytest.raises(ValueError, match="not read"):
        create_document(spec)


def test_secret_files_are_under_the_daemons_secrets_directory() -> None:
    container = OciContainer(
        image="busybox", secrets=[{"source": "/etc/db.pass", "target": "/run/secrets/db"}]
    )
    spec = container_spec(container, "b", "podman", secrets_dir="/run/corral/secrets")
    document = create_document(spec)
    assert document is not None
    assert document["HostConfig"]["Mounts"][0]["Source"] == "/run/corral/secrets/b/0"
    assert "/run/corral/secrets/b/0" in create_argv(spec)[5]
