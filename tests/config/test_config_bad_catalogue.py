"""A catalogue of bad configurations: each exits 2 and names file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from corral.cli import app

# (id, TOML text, expected line, expected field path, expected words in the message)
CATALOGUE: list[tuple[str, str, int, str, str]] = [
    (
        "http-listen-everywhere",
        '[http]\nlisten = "0.0.0.0:9847"\n',
        2,
        "http.listen",
        '"0.0.0.0:9847" is not a loopback address: the page would be reachable from other hosts; set allow_remote = true',
    ),
    (
        "http-listen-v6-everywhere",
        '[http]\nlisten = "[::]:9847"\n',
        2,
        "http.listen",
        "is not a loopback address",
    ),
    (
        "http-remote-without-tls",
        '[http]\nlisten = "0.0.0.0:9847"\nallow_remote = true\n',
        3,
        "http.allow_remote",
        "allow_remote = true needs tls_cert and tls_key",
    ),
    (
        "http-key-without-cert",
        '[http]\ntls_key = "/etc/corral/key.pem"\n',
        2,
        "http.tls_key",
        "tls_key needs tls_cert too",
    ),
    (
        "http-listen-no-port",
        '[http]\nlisten = "localhost"\n',
        2,
        "http.listen",
        '"localhost" is not an address like 127.0.0.1:9847',
    ),
    (
        "http-listen-port-range",
        '[http]\nlisten = "127.0.0.1:70000"\n',
        2,
        "http.listen",
        'port 70000 of "127.0.0.1:70000" is not between 1 and 65535',
    ),
    (
        "http-listen-hostname",
        '[http]\nlisten = "example.com:80"\n',
        2,
        "http.listen",
        '"example.com" in "example.com:80" is not an IP address (or localhost)',
    ),
    (
        "http-allow-remote-not-bool",
        '[http]\nallow_remote = "yes"\n',
        2,
        "http.allow_remote",
        'must be true or false, but "yes" was found',
    ),
    (
        "http-unknown-key",
        "[http]\nport = 9847\n",
        2,
        "http.port",
        'unknown key "port"',
    ),
    (
        "port-int",
        '[[container]]\nimage = "a"\nports = ["1:2", 42]\n',
        3,
        "container[0].ports[1]",
        "ports members must be a string or a pair, but 42 was found",
    ),
    (
        "port-triple",
        '[[container]]\nimage = "a"\nports = [["1", "2", "3"]]\n',
        3,
        "container[0].ports[0]",
        "must be a string or a pair",
    ),
    (
        "port-pair-int",
        '[[container]]\nimage = "a"\nports = [["1", 2]]\n',
        3,
        "container[0].ports[0]",
        "must be a string or a pair",
    ),
    (
        "port-garbage",
        '[[container]]\nimage = "a"\nports = ["http:80"]\n',
        3,
        "container[0].ports[0]",
        "is not a port mapping",
    ),
    (
        "port-range",
        '[[container]]\nimage = "a"\nports = ["70000:80"]\n',
        3,
        "container[0].ports[0]",
        "between 1 and 65535",
    ),
    (
        "ports-not-list",
        '[[container]]\nimage = "a"\nports = "8080:80"\n',
        3,
        "container[0].ports",
        "must be a list of strings or pairs",
    ),
    (
        "volume-table",
        '[[container]]\nimage = "a"\nvolumes = [{ a = "b" }]\n',
        3,
        "container[0].volumes[0]",
        "volumes members must be a string or a pair",
    ),
    (
        "env-int",
        '[[container]]\nimage = "a"\n\nenvironment = ["A=1", 7]\n',
        4,
        "container[0].environment[1]",
        "but 7 was found",
    ),
    (
        "env-bad-key",
        '[[container]]\nimage = "a"\nenvironment = ["=x"]\n',
        3,
        "container[0].environment[0]",
        "KEY=VALUE",
    ),
    (
        "extra-int",
        '[[container]]\nimage = "a"\nextra_arguments = ["--init", 3]\n',
        3,
        "container[0].extra_arguments[1]",
        "extra_arguments members must be strings",
    ),
    (
        "command-string",
        '[[container]]\nimage = "a"\ncommand = "httpd -f"\n',
        3,
        "container[0].command",
        "must be a list of strings",
    ),
    (
        "unknown-key",
        '[[container]]\nimage = "a"\nprots = ["1:2"]\n',
        3,
        "container[0].prots",
        'unknown key "prots" (did you mean "ports"?)',
    ),
    ("unknown-top", 'runtime = "docker"\ncontainers_ = []\n', 2, "containers_", "unknown key"),
    (
        "unknown-image-key",
        '[[container]]\nimage = { repository = "r", tarball = "t", tagg = "1" }\n',
        2,
        "container[0].image.tagg",
        'did you mean "tag"',
    ),
    (
        "bool-string",
        '[[container]]\nimage = "a"\nauto_start = "yes"\n',
        3,
        "container[0].auto_start",
        'must be true or false, but "yes" was found',
    ),
    (
        "image-missing",
        '[[container]]\nprovision = "x"\n',
        1,
        "container[0].image",
        "required key is missing",
    ),
    (
        "image-int",
        "[[container]]\nimage = 5\n",
        2,
        "container[0].image",
        "must be a string or a table",
    ),
    (
        "image-empty",
        '[[container]]\nimage = { repository = "r" }\n',
        2,
        "container[0].image",
        "needs a tarball",
    ),
    (
        "image-both",
        '[[container]]\nimage = { repository = "r", tarball = "t", files = ["/etc/hosts"] }\n',
        2,
        "container[0].image",
        "tarball excludes",
    ),
    (
        "max-layers",
        '[[container]]\nimage = { repository = "r", files = ["/etc"], max_layers = 200 }\n',
        2,
        "container[0].image",
        "max_layers must be between 1 and 125",
    ),
    ("runtime", 'runtime = "rkt"\n', 1, "runtime", "must be one of"),
    (
        "duplicate-names",
        '[[container]]\nimage = "a/web:1"\n\n[[container]]\nimage = "b/web:2"\n',
        4,
        "container[1].provision",
        'service name "docker-web" is already used by container[0]',
    ),
    (
        "duplicate-provision",
        '[[container]]\nimage = "a"\nprovision = "x"\n[[process]]\nname = "x"\ncommand = ["true"]\n',
        3,
        "container[0].provision",
        'service name "x" is already used by process[0]',
    ),
    (
        "missing-requirement",
        '[[container]]\nimage = "a"\nrequirement = ["db"]\n',
        3,
        "container[0].requirement[0]",
        'requirement "db" names no service',
    ),
    (
        "requirement-typo",
        '[[container]]\nimage = "a"\nprovision = "database"\n[[container]]\nimage = "b"\nrequirement = ["databse"]\n',
        6,
        "container[1].requirement[0]",
        'did you mean "database"',
    ),
    (
        "cycle",
        '[[container]]\nimage = "a"\nprovision = "a"\nrequirement = ["b"]\n'
        '[[container]]\nimage = "b"\nprovision = "b"\nrequirement = ["a"]\n',
        4,
        "container[0].requirement",
        "dependency cycle: a -> b -> a",
    ),
    (
        "self-requirement",
        '[[container]]\nimage = "a"\nprovision = "a"\nrequirement = ["a"]\n',
        4,
        "container[0].requirement[0]",
        "cannot require itself",
    ),
    (
        "port-collision",
        '[[container]]\nimage = "a"\nports = ["8080:80"]\n[[container]]\nimage = "b"\n'
        'ports = [["127.0.0.1:8080", "81"]]\n',
        6,
        "container[1].ports[0]",
        "host port 8080/tcp on 127.0.0.1 is already published by container[0].ports[0]",
    ),
    (
        "port-collision-range",
        '[[container]]\nimage = "a"\nports = ["9000-9010:80"]\n[[container]]\nimage = "b"\n'
        'ports = ["9005:81"]\n',
        6,
        "container[1].ports[0]",
        "already published",
    ),
    ("malformed-toml", '[[container]]\nimage = "a"\nports = [\n', 4, "", "invalid TOML"),
    ("malformed-toml-key", "runtime = docker\n", 1, "", "invalid TOML"),
    (
        "stop-signal",
        '[[container]]\nimage = "a"\nstop_signal = "kill me"\n',
        3,
        "container[0].stop_signal",
        "signal name",
    ),
    (
        "negative-timeout",
        '[[container]]\nimage = "a"\nstop_timeout = -1\n',
        3,
        "container[0].stop_timeout",
        "must not be negative",
    ),
    (
        "respawn-limit",
        '[[container]]\nimage = "a"\nrespawn_limit = [1, 2, 3]\n',
        3,
        "container[0].respawn_limit",
        "[STARTS, SECONDS]",
    ),
    (
        "action-no-command",
        '[[container]]\nimage = "a"\n[[container.actions]]\nname = "hi"\ncommand = []\n',
        5,
        "container[0].actions[0].command",
        "must name a program",
    ),
    (
        "action-builtin",
        '[[container]]\nimage = "a"\n[[container.actions]]\nname = "pull"\ncommand = ["x"]\n',
        4,
        "container[0].actions[0].name",
        "built-in action",
    ),
    (
        "label-reserved",
        '[[container]]\nimage = "a"\nlabels = { "corral.service" = "x" }\n',
        3,
        "container[0].labels",
        'labels under "corral." are corral\'s own',
    ),
    (
        "extra-label-reserved",
        '[[container]]\nimage = "a"\nextra_arguments = ["--init", "--label", "corral.config-hash=x"]\n',
        3,
        "container[0].extra_arguments",
        '"--label" "corral.config-hash=x" (member 1) sets a label under "corral."',
    ),
    (
        "volume-relative-target",
        '[[container]]\nimage = "a"\nvolumes = ["/srv:/srv",\n  "data:rel"]\n',
        4,
        "container[0].volumes[1]",
        'the container path "rel" of "data:rel" must be absolute',
    ),
    (
        "volume-too-many-parts",
        '[[container]]\nimage = "a"\nvolumes = ["a:/b:ro:x"]\n',
        3,
        "container[0].volumes[0]",
        "is not a volume mapping like /srv/www:/www[:ro]",
    ),
    (
        "docker-host-tcp",
        '[docker]\nhost = "tcp://0.0.0.0:2375"\n',
        2,
        "docker.host",
        "corral reaches engines over Unix sockets only",
    ),
    ("process-no-command", '[[process]]\nname = "p"\n', 1, "process[0].command", "required"),
    (
        "labels-int",
        '[[container]]\nimage = "a"\nlabels = { a = 1 }\n',
        3,
        "container[0].labels",
        "labels.a must be a string",
    ),
    ("network-name", '[[network]]\nname = "bad name"\n', 2, "network[0].name", "letters, digits"),
    # -- part B of issue 15: networks, env_files, secrets
    (
        "networks-not-list",
        '[[container]]\nimage = "a"\nnetworks = "front"\n',
        3,
        "container[0].networks",
        "networks must be a list of network names or tables",
    ),
    (
        "networks-member-int",
        '[[container]]\nimage = "a"\nnetworks = ["front", 7]\n',
        3,
        "container[0].networks[1]",
        "networks members must be a network name or a table, but 7 was found",
    ),
    (
        "networks-and-network",
        '[[container]]\nimage = "a"\nnetwork = "back"\nnetworks = ["front"]\n',
        4,
        "container[0].networks",
        "network and networks cannot both be declared",
    ),
    (
        "networks-twice",
        '[[container]]\nimage = "a"\nnetworks = ["front", { name = "front" }]\n',
        3,
        "container[0].networks",
        'networks names "front" twice',
    ),
    (
        "networks-bad-ipv4",
        '[[container]]\nimage = "a"\nnetworks = [{ name = "front", ipv4_address = "fd00::1" }]\n',
        3,
        "container[0].networks[0].ipv4_address",
        "must be an IPv4 address",
    ),
    (
        "networks-unknown-key",
        '[[container]]\nimage = "a"\nnetworks = [{ name = "front", alias = ["x"] }]\n',
        3,
        "container[0].networks[0].alias",
        "",
    ),
    (
        "networks-alias-name",
        '[[container]]\nimage = "a"\nnetworks = [{ name = "front", aliases = ["a b"] }]\n',
        3,
        "container[0].networks[0].aliases[0]",
        "letters, digits",
    ),
    (
        "network-aliases-no-network",
        '[[container]]\nimage = "a"\nnetwork_aliases = ["db"]\n',
        3,
        "container[0].network_aliases",
        "network_aliases are names on `network`",
    ),
    (
        "network-aliases-not-list",
        '[[container]]\nimage = "a"\nnetwork = "n"\nnetwork_aliases = "db"\n',
        4,
        "container[0].network_aliases",
        "must be a list of names",
    ),
    (
        "env-files-not-list",
        '[[container]]\nimage = "a"\nenv_files = "app.env"\n',
        3,
        "container[0].env_files",
        "env_files must be a list of strings",
    ),
    (
        "env-files-member-int",
        '[[container]]\nimage = "a"\nenv_files = ["app.env", 1]\n',
        3,
        "container[0].env_files[1]",
        "env_files members must be strings",
    ),
    (
        "env-files-missing",
        '[[container]]\nimage = "a"\nenv_files = ["missing.env"]\n',
        3,
        "container[0].env_files[0]",
        "missing.env: No such file or directory",
    ),
    (
        "secrets-not-list",
        '[[container]]\nimage = "a"\nsecrets = { source = "s" }\n',
        3,
        "container[0].secrets",
        "secrets must be a list of tables",
    ),
    (
        "secrets-relative-target",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "/etc/hostname", target = "run/secrets/x" }]\n',
        3,
        "container[0].secrets[0].target",
        "target must be an absolute path",
    ),
    (
        "secrets-no-target",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "/etc/hostname" }]\n',
        3,
        "container[0].secrets[0].target",
        "required",
    ),
    (
        "secrets-both-sources",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "s", command = ["pass"], target = "/s" }]\n',
        3,
        "container[0].secrets[0]",
        "one of source or command",
    ),
    (
        "secrets-no-source",
        '[[container]]\nimage = "a"\nsecrets = [{ target = "/s" }]\n',
        3,
        "container[0].secrets[0]",
        "one of source or command",
    ),
    (
        "secrets-bad-mode",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "s", target = "/s", mode = "0999" }]\n',
        3,
        "container[0].secrets[0].mode",
        "octal file mode",
    ),
    (
        "secrets-mode-int",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "s", target = "/s", mode = 256 }]\n',
        3,
        "container[0].secrets[0].mode",
        "must be a string, but 256 was found",
    ),
    (
        "secrets-negative-uid",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "s", target = "/s", uid = -1 }]\n',
        3,
        "container[0].secrets[0].uid",
        "must be at least 0, but -1 was found",
    ),
    (
        "secrets-same-target",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "s", target = "/s" }, { source = "t", target = "/s" }]\n',
        3,
        "container[0].secrets",
        'two secrets have the target "/s"',
    ),
    (
        "secrets-missing-source",
        '[[container]]\nimage = "a"\nsecrets = [{ source = "missing.pass", target = "/run/secrets/p" }]\n',
        3,
        "container[0].secrets[0].source",
        "missing.pass: No such file or directory",
    ),
    (
        "network-aliases-on-bridge",
        '[[container]]\nimage = "a"\nnetwork = "bridge"\nnetwork_aliases = ["db"]\n',
        4,
        "container[0].network_aliases",
        'user-defined network, and "bridge" is not',
    ),
    (
        "docker-table-key",
        "[docker]\ndebug = true\nenable_proxyy = false\n",
        3,
        "docker.enable_proxyy",
        'did you mean "enable_proxy"',
    ),
    # -- issue 15's run options --
    (
        "expose-bad",
        '[[container]]\nimage = "a"\nexpose = ["http"]\n',
        3,
        "container[0].expose[0]",
        "expose members must be PORT[/PROTOCOL] like 8080 or 53/udp,",
    ),
    (
        "expose-range",
        '[[container]]\nimage = "a"\nexpose = [70000]\n',
        3,
        "container[0].expose[0]",
        'expose: "70000" is not a port or range between 1 and 65535',
    ),
    (
        "memory-type",
        '[[container]]\nimage = "a"\nmemory = true\n',
        3,
        "container[0].memory",
        'memory must be a size like "512m", "2g" or a number of',
    ),
    (
        "memory-unit",
        '[[container]]\nimage = "a"\nmemory = "512x"\n',
        3,
        "container[0].memory",
        'memory must be a size like "512m", "2g" or a number of',
    ),
    (
        "memory-zero",
        '[[container]]\nimage = "a"\nmemory = 0\n',
        3,
        "container[0].memory",
        "memory must be more than 0 bytes, but 0 was found",
    ),
    (
        "memory-huge",
        '[[container]]\nimage = "a"\nmemory = "99999999t"\n',
        3,
        "container[0].memory",
        "memory must be at most 9223372036854775807 bytes, but",
    ),
    (
        "memory-reservation-type",
        '[[container]]\nimage = "a"\nmemory_reservation = [1]\n',
        3,
        "container[0].memory_reservation",
        'memory_reservation must be a size like "512m", "2g" or a',
    ),
    (
        "memory-swap-without-memory",
        '[[container]]\nimage = "a"\nmemory_swap = "1g"\n',
        3,
        "container[0].memory_swap",
        "memory_swap needs memory: the engines refuse a swap limit",
    ),
    (
        "memory-swap-below",
        '[[container]]\nimage = "a"\nmemory = "1g"\nmemory_swap = "512m"\n',
        4,
        "container[0].memory_swap",
        "memory_swap (536870912 bytes) must be at least memory",
    ),
    (
        "memory-reservation-above",
        '[[container]]\nimage = "a"\nmemory = "512m"\nmemory_reservation = "1g"\n',
        4,
        "container[0].memory_reservation",
        "memory_reservation (1073741824 bytes) must be at most",
    ),
    (
        "shm-size-negative",
        '[[container]]\nimage = "a"\nshm_size = -5\n',
        3,
        "container[0].shm_size",
        "shm_size must be more than 0 bytes, but -5 was found",
    ),
    (
        "cpus-string",
        '[[container]]\nimage = "a"\ncpus = "two"\n',
        3,
        "container[0].cpus",
        'cpus must be a number like 1.5, but "two" was found',
    ),
    (
        "cpus-zero",
        '[[container]]\nimage = "a"\ncpus = 0\n',
        3,
        "container[0].cpus",
        "cpus must be between 0.01 and 1000000, but 0 was found",
    ),
    (
        "cpu-shares-low",
        '[[container]]\nimage = "a"\ncpu_shares = 1\n',
        3,
        "container[0].cpu_shares",
        "must be at least 2, but 1 was found",
    ),
    (
        "cpuset-bad",
        '[[container]]\nimage = "a"\ncpuset = "a-b"\n',
        3,
        "container[0].cpuset",
        'cpuset must be CPU numbers like "0-3,5", but "a-b" was',
    ),
    (
        "cpuset-backwards",
        '[[container]]\nimage = "a"\ncpuset = "3-1"\n',
        3,
        "container[0].cpuset",
        'cpuset range "3-1" ends before it starts',
    ),
    (
        "pids-limit-zero",
        '[[container]]\nimage = "a"\npids_limit = -2\n',
        3,
        "container[0].pids_limit",
        "must be at least -1, but -2 was found",
    ),
    (
        "pids-limit-type",
        '[[container]]\nimage = "a"\npids_limit = "many"\n',
        3,
        "container[0].pids_limit",
        'must be an integer, but "many" was found',
    ),
    (
        "oom-score-adj-range",
        '[[container]]\nimage = "a"\noom_score_adj = 2000\n',
        3,
        "container[0].oom_score_adj",
        "must be at most 1000, but 2000 was found",
    ),
    (
        "ulimits-type",
        '[[container]]\nimage = "a"\nulimits = ["nofile=1024"]\n',
        3,
        "container[0].ulimits",
        "ulimits must be a table like nofile = [1024, 4096], but",
    ),
    (
        "ulimits-unknown",
        '[[container]]\nimage = "a"\nulimits = { nofiles = 1024 }\n',
        3,
        "container[0].ulimits",
        'ulimits.nofiles: unknown resource "nofiles"; known: as,',
    ),
    (
        "ulimits-triple",
        '[[container]]\nimage = "a"\nulimits = { nofile = [1, 2, 3] }\n',
        3,
        "container[0].ulimits",
        "ulimits.nofile must be SOFT or [SOFT, HARD], but [1, 2, 3]",
    ),
    (
        "ulimits-soft-above-hard",
        '[[container]]\nimage = "a"\nulimits = { nofile = [4096, 1024] }\n',
        3,
        "container[0].ulimits",
        "ulimits.nofile: the soft limit 4096 is above the hard limit",
    ),
    (
        "ulimits-string",
        '[[container]]\nimage = "a"\nulimits = { nofile = "1024" }\n',
        3,
        "container[0].ulimits",
        "ulimits.nofile must be an integer, or -1 for unlimited, but",
    ),
    (
        "cap-add-unknown",
        '[[container]]\nimage = "a"\ncap_add = ["NET_ADMIN", "CAP_FLY"]\n',
        3,
        "container[0].cap_add[1]",
        '"CAP_FLY" is not a Linux capability (like NET_ADMIN or',
    ),
    (
        "cap-drop-type",
        '[[container]]\nimage = "a"\ncap_drop = "ALL"\n',
        3,
        "container[0].cap_drop",
        'cap_drop must be a list of strings, but "ALL" was found',
    ),
    (
        "security-opt-nnp",
        '[[container]]\nimage = "a"\nsecurity_opt = ["no-new-privileges:true"]\n',
        3,
        "container[0].security_opt[0]",
        '"no-new-privileges:true": write no_new_privileges = true',
    ),
    (
        "security-opt-type",
        '[[container]]\nimage = "a"\nsecurity_opt = [1]\n',
        3,
        "container[0].security_opt[0]",
        "security_opt members must be strings, but 1 was found",
    ),
    (
        "privileged-type",
        '[[container]]\nimage = "a"\nprivileged = "yes"\n',
        3,
        "container[0].privileged",
        'must be true or false, but "yes" was found',
    ),
    (
        "no-new-privileges-type",
        '[[container]]\nimage = "a"\nno_new_privileges = 1\n',
        3,
        "container[0].no_new_privileges",
        "must be true or false, but 1 was found",
    ),
    (
        "init-type",
        '[[container]]\nimage = "a"\ninit = "true"\n',
        3,
        "container[0].init",
        'must be true or false, but "true" was found',
    ),
    (
        "tmpfs-relative",
        '[[container]]\nimage = "a"\ntmpfs = ["run"]\n',
        3,
        "container[0].tmpfs[0]",
        "tmpfs path must be absolute (PATH or PATH:OPTIONS), but",
    ),
    (
        "tmpfs-options",
        '[[container]]\nimage = "a"\ntmpfs = ["/run:size 64m"]\n',
        3,
        "container[0].tmpfs[0]",
        "tmpfs options must be a comma-separated list like",
    ),
    (
        "tmpfs-twice",
        '[[container]]\nimage = "a"\ntmpfs = ["/run", "/run:size=1m"]\n',
        3,
        "container[0].tmpfs[1]",
        'tmpfs mounts "/run" twice',
    ),
    (
        "devices-relative",
        '[[container]]\nimage = "a"\ndevices = ["dev/fuse"]\n',
        3,
        "container[0].devices[0]",
        "devices members must be HOST[:CONTAINER[:PERMS]], but",
    ),
    (
        "devices-perms",
        '[[container]]\nimage = "a"\ndevices = ["/dev/fuse:/dev/fuse:rwx"]\n',
        3,
        "container[0].devices[0]",
        'device permissions must be letters of "rwm", but',
    ),
    (
        "sysctls-type",
        '[[container]]\nimage = "a"\nsysctls = ["net.core.somaxconn=1"]\n',
        3,
        "container[0].sysctls",
        'sysctls must be a table like "net.core.somaxconn" = "1024",',
    ),
    (
        "sysctls-value",
        '[[container]]\nimage = "a"\nsysctls = { "net.core.somaxconn" = true }\n',
        3,
        "container[0].sysctls",
        "sysctls.net.core.somaxconn must be a string or integer, but",
    ),
    (
        "group-add-type",
        '[[container]]\nimage = "a"\ngroup_add = [1000]\n',
        3,
        "container[0].group_add[0]",
        "group_add members must be strings, but 1000 was found",
    ),
    (
        "userns-docker",
        '[[container]]\nimage = "a"\nuserns = "keep-id"\n',
        3,
        "container[0].userns",
        'runtime "docker" cannot honour userns = "keep-id"',
    ),
    (
        "userns-podman",
        'runtime = "podman"\n[[container]]\nimage = "a"\nuserns = "bogus"\n',
        4,
        "container[0].userns",
        'runtime "podman" cannot honour userns = "bogus"; it takes',
    ),
    (
        "dns-address",
        '[[container]]\nimage = "a"\ndns = ["dns.google"]\n',
        3,
        "container[0].dns[0]",
        'dns members must be IP addresses, but "dns.google" was',
    ),
    (
        "dns-search-type",
        '[[container]]\nimage = "a"\ndns_search = "example.org"\n',
        3,
        "container[0].dns_search",
        'dns_search must be a list of strings, but "example.org" was',
    ),
    (
        "dns-options-type",
        '[[container]]\nimage = "a"\ndns_options = [2]\n',
        3,
        "container[0].dns_options[0]",
        "dns_options members must be strings, but 2 was found",
    ),
    (
        "extra-hosts-bad",
        '[[container]]\nimage = "a"\nextra_hosts = ["db"]\n',
        3,
        "container[0].extra_hosts[0]",
        "extra_hosts members must be HOST:IP (or HOST:host-gateway),",
    ),
    (
        "extra-hosts-address",
        '[[container]]\nimage = "a"\nextra_hosts = ["db:300.1.1.1"]\n',
        3,
        "container[0].extra_hosts[0]",
        "extra_hosts members must be HOST:IP (or HOST:host-gateway),",
    ),
    (
        "extra-hosts-gateway-podman",
        'runtime = "podman"\n[[container]]\nimage = "a"\nextra_hosts = ["gw:host-gateway"]\n',
        4,
        "container[0].extra_hosts[0]",
        'runtime "podman" (4.3) cannot honour "gw:host-gateway": it',
    ),
    (
        "domainname-podman",
        'runtime = "podman"\n[[container]]\nimage = "a"\ndomainname = "corral.test"\n',
        4,
        "container[0].domainname",
        'runtime "podman" (4.3) cannot honour domainname',
    ),
    (
        "mac-address-podman-no-network",
        'runtime = "podman"\n[[container]]\nimage = "a"\nmac_address = "02:42:ac:11:00:02"\n',
        4,
        "container[0].mac_address",
        "cannot honour mac_address without a declared network",
    ),
    (
        "domainname-type",
        '[[container]]\nimage = "a"\ndomainname = 3\n',
        3,
        "container[0].domainname",
        "must be a string, but 3 was found",
    ),
    (
        "mac-address-bad",
        '[[container]]\nimage = "a"\nmac_address = "02:42"\n',
        3,
        "container[0].mac_address",
        'mac_address must look like 02:42:ac:11:00:02, but "02:42"',
    ),
    (
        "platform-bad",
        '[[container]]\nimage = "a"\nplatform = "Linux AMD64"\n',
        3,
        "container[0].platform",
        "platform must be OS[/ARCH[/VARIANT]] like linux/arm64, but",
    ),
    (
        "stdin-open-type",
        '[[container]]\nimage = "a"\nstdin_open = "yes"\n',
        3,
        "container[0].stdin_open",
        'must be true or false, but "yes" was found',
    ),
    (
        "tty-type",
        '[[container]]\nimage = "a"\ntty = 1\n',
        3,
        "container[0].tty",
        "must be true or false, but 1 was found",
    ),
    (
        "stop-signal-unknown",
        '[[container]]\nimage = "a"\nstop_signal = "SIGFOO"\n',
        3,
        "container[0].stop_signal",
        'signal name like SIGTERM or a number from 1 to 64, but "SIGFOO" was found',
    ),
    (
        "stop-signal-number-too-big",
        '[[container]]\nimage = "a"\nstop_signal = "65"\n',
        3,
        "container[0].stop_signal",
        '"65" was found',
    ),
    (
        "health-cmd-empty",
        '[[container]]\nimage = "a"\nhealth_cmd = ""\n',
        3,
        "container[0].health_cmd",
        "health_cmd must not be empty",
    ),
    (
        "health-cmd-blank",
        '[[container]]\nimage = "a"\nhealth_cmd = "  "\n',
        3,
        "container[0].health_cmd",
        "health_cmd must not be empty",
    ),
    (
        "health-cmd-exec-empty",
        '[[container]]\nimage = "a"\nhealth_cmd = []\n',
        3,
        "container[0].health_cmd",
        "health_cmd must name a program to run, but [] was found",
    ),
    (
        "health-cmd-exec-not-strings",
        '[[container]]\nimage = "a"\nhealth_cmd = ["curl", 1]\n',
        3,
        "container[0].health_cmd",
        "health_cmd members must be strings, but 1 was found",
    ),
    (
        "health-cmd-number",
        '[[container]]\nimage = "a"\nhealth_cmd = 5\n',
        3,
        "container[0].health_cmd",
        "health_cmd must be a string (run by a shell) or a list of strings (run as is)",
    ),
    (
        "health-start-interval-negative",
        '[[container]]\nimage = "a"\nhealth_cmd = "true"\nhealth_start_interval = -1.0\n',
        4,
        "container[0].health_start_interval",
        "must not be negative",
    ),
    (
        "respawn-on-unknown",
        '[[container]]\nimage = "a"\nrespawn_on = "always"\n',
        3,
        "container[0].respawn_on",
        "must be one of",
    ),
    (
        "process-respawn-on-unknown",
        '[[process]]\nname = "p"\ncommand = ["x"]\nrespawn_on = "never"\n',
        4,
        "process[0].respawn_on",
        "must be one of",
    ),
    (
        "one-shot-respawn-on-exit",
        '[[container]]\nimage = "a"\none_shot = true\nrespawn = true\n',
        1,
        "container[0]",
        'one_shot with respawn = true needs respawn_on = "failure"',
    ),
    (
        "build-with-files",
        '[[container]]\nimage = { repository = "r", build = { context = "." }, files = ["/etc"] }\n',
        2,
        "container[0].image",
        "build (a Dockerfile build) excludes files",
    ),
    (
        "build-no-context",
        '[[container]]\nimage = { repository = "r", build = { dockerfile = "D" } }\n',
        2,
        "container[0].image.build.context",
        "",
    ),
    (
        "build-dockerfile-escapes",
        '[[container]]\nimage = { repository = "r", build = { context = ".", dockerfile = "../D" } }\n',
        2,
        "container[0].image.build.dockerfile",
        'dockerfile is a path inside the build context, but "../D" leaves it',
    ),
    (
        "build-context-missing",
        '[[container]]\nimage = { repository = "r", build = { context = "nothere" } }\n',
        2,
        "container[0].image.build.context",
        "/nothere does not exist",
    ),
    (
        "build-dockerfile-missing",
        '[[container]]\nimage = { repository = "r", build = { context = ".", dockerfile = "D" } }\n',
        2,
        "container[0].image.build.dockerfile",
        "/D does not exist (dockerfile is a path in the context)",
    ),
    (
        "health-cmd-exec-by-docker-cli",
        '[[container]]\nimage = "a"\nhealth_cmd = ["true"]\nextra_arguments = ["--init"]\n',
        3,
        "container[0].health_cmd",
        "docker's --health-cmd is shell form only",
    ),
    (
        "build-args-not-strings",
        '[[container]]\nimage = { repository = "r", build = { context = ".", args = { V = 1 } } }\n',
        2,
        "container[0].image.build.args",
        "args.V must be a string, but 1 was found",
    ),
    (
        "volume-relative-container-path-pair",
        '[[container]]\nimage = "a"\nvolumes = [["/srv", "srv"]]\n',
        3,
        "container[0].volumes[0]",
        'the container path "srv" of "/srv:srv" must be absolute',
    ),
    (
        "image-file-escapes-root",
        '[[container]]\nimage = { repository = "r", files = [\n  ["/etc/hostname", "../../escape"]] }\n',
        3,
        "container[0].image.files[0]",
        'the image path "../../escape" escapes the image root',
    ),
    (
        "image-program-escapes-root",
        '[[container]]\nimage = { repository = "r", programs = [["/bin/sh", "/a/../../sh"]] }\n',
        2,
        "container[0].image.programs[0]",
        'the image path "/a/../../sh" escapes the image root',
    ),
    (
        "image-symlink-escapes-root",
        '[[container]]\nimage = { repository = "r", files = ["/etc/hostname"],'
        ' symlinks = [["../x", "/etc/hostname"]] }\n',
        2,
        "container[0].image.symlinks[0]",
        'the image path "../x" escapes the image root',
    ),
    (
        "port-behind-a-type-error",
        '[[container]]\nimage = "a"\nrespawn = "yes"\nports = ["99999:80"]\n',
        4,
        "container[0].ports[0]",
        "between 1 and 65535",
    ),
    (
        "record-check-behind-a-type-error",
        '[[container]]\nimage = "a"\ntty = 1\non_unhealthy = "restart"\n',
        1,
        "container[0]",
        'on_unhealthy = "restart" needs a health_cmd',
    ),
    (
        "duplicate-port-behind-a-type-error",
        '[[container]]\nimage = "a"\nports = ["9005:80"]\ntty = 1\n'
        '[[container]]\nimage = "b"\nports = ["9005:81"]\n',
        7,
        "container[1].ports[0]",
        "already published",
    ),
    (
        "pull-unknown",
        '[[container]]\nimage = "a"\npull = "sometimes"\n',
        3,
        "container[0].pull",
        "'missing', 'always', 'never' or 'newer'",
    ),
    (
        "pull-top-level-unknown",
        'pull = true\n[[container]]\nimage = "a"\n',
        1,
        "pull",
        "'missing', 'always', 'never' or 'newer'",
    ),
    (
        "image-malformed-reference",
        '[[container]]\nimage = "Team/App:1"\n',
        2,
        "container[0].image",
        "'Team/App:1' is not a valid image reference (repository names are lower case)",
    ),
    (
        "image-empty-tag",
        '[[container]]\nimage = "app:"\n',
        2,
        "container[0].image",
        "is not a valid image reference",
    ),
    (
        "registry-no-password-source",
        '[[registry]]\nhost = "127.0.0.1:24000"\nusername = "u"\n',
        1,
        "registry[0]",
        "one of password_file or password_command",
    ),
    (
        "registry-bad-host",
        '[[registry]]\nhost = "not a host"\nusername = "u"\npassword_command = ["pass"]\n',
        2,
        "registry[0].host",
        "must be a registry host",
    ),
    (
        "registry-missing-password-file",
        '[[registry]]\nhost = "r.example"\nusername = "u"\npassword_file = "nope"\n',
        4,
        "registry[0].password_file",
        "No such file or directory",
    ),
    (
        "update-settle-negative",
        'update_settle = -1.0\n[[container]]\nimage = "a"\n',
        1,
        "update_settle",
        "must not be negative",
    ),
    (
        "project-not-a-name",
        'update_settle = 1.0\nproject = "a b"\n[[container]]\nimage = "a"\n',
        2,
        "project",
        "project must start with a letter or digit",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "path", "words"),
    [c[1:] for c in CATALOGUE],
    ids=[c[0] for c in CATALOGUE],
)
def test_bad_configuration(tmp_path: Path, text: str, line: int, path: str, words: str) -> None:
    config = tmp_path / "corral.toml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    prefix = f"{config}:{line}: " + (f"{path}: " if path else "")
    matching = [row for row in output.splitlines() if row.startswith(prefix)]
    assert matching, f"no line starts with {prefix!r}:\n{output}"
    assert any(words in row for row in matching), output


def test_one_bad_field_never_hides_another(tmp_path: Path) -> None:
    """The issue's case: a type error and a bad port in one record, both reported,
    with the problems of other records; nothing reported twice, no effect of
    leaving the bad field out (``image`` is required: never "missing")."""
    config = tmp_path / "corral.toml"
    config.write_text(
        '[[container]]\nimage = "a"\nrespawn = "yes"\nports = ["99999:80"]\n'
        '[[container]]\nimage = 7\nstop_signal = "SIGFOO"\nhealth_cmd = ""\n'
        '[[process]]\nname = "p"\ncommand = ["x"]\nrespawn = 2\nrequirement = ["nothing"]\n'
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    rows = result.output.strip().splitlines()
    assert [r.split(": ")[1] for r in rows] == [
        "container[0].respawn",
        "container[0].ports[0]",
        "container[1].image",
        "container[1].stop_signal",
        "container[1].health_cmd",
        "process[0].respawn",
    ], result.output
    assert "missing" not in result.output


def test_catalogue_is_large_enough() -> None:
    assert len(CATALOGUE) >= 25


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text(
        '[[container]]\nimage = "a"\nports = [42]\nauto_start = 1\nprots = 3\n'
        "[[container]]\nimage = 7\n"
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    rows = result.output.strip().splitlines()
    assert [r.split(": ")[1] for r in rows] == [
        "container[0].ports[0]",
        "container[0].auto_start",
        "container[0].prots",
        "container[1].image",
    ]


def test_secret_values_never_in_errors(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text(
        '[[container]]\nimage = "a"\nhost_environment = [["DB_PASSWORD", "hunter2", "x"], '
        '["=hunter2"], "=hunter2"]\n'
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "host_environment[0]" in result.output
    assert "hunter2" not in result.output


def test_missing_file_and_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    run = subprocess.run(
        [sys.executable, "-m", "corral", "-c", str(missing), "check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert f"{missing}: cannot read the configuration" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_not_utf8(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_bytes(b'runtime = "docker"\n# \xff\xfe\n')
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"{config}:2: the file is not UTF-8 text" in result.output


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["show", "--bogus"])
    assert result.exit_code == 2


def test_malformed_env_file_is_located_without_its_values(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("# ok\nGOOD=hunter2\nexport BAD hunter3\n")
    (tmp_path / "open.env").write_text('A="hunter4\n')
    config = tmp_path / "corral.toml"
    config.write_text('[[container]]\nimage = "a"\n\nenv_files = ["app.env", "open.env"]\n')
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{config}:4: container[0].env_files[0]: {tmp_path}/app.env: line 3: expected "
        "KEY=VALUE (KEY= for an empty value)",
        f"{config}:4: container[0].env_files[1]: {tmp_path}/open.env: line 1: the value's "
        'opening " is never closed',
    ]
    assert "hunter" not in result.output


def test_world_readable_secret_source_is_refused_unless_allowed(tmp_path: Path) -> None:
    source = tmp_path / "db.pass"
    source.write_text("hunter2")
    source.chmod(0o644)
    config = tmp_path / "corral.toml"
    text = '[[container]]\nimage = "a"\nsecrets = [{ source = "db.pass", target = "/s"%s }]\n'
    config.write_text(text % "")
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.startswith(
        f"{config}:3: container[0].secrets[0].source: {source} is readable by others (mode 0644)"
    )
    assert "hunter2" not in result.output
    config.write_text(text % ", allow_world_readable = true")
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    source.chmod(0o600)
    config.write_text(text % "")
    assert CliRunner().invoke(app, ["-c", str(config), "check"]).exit_code == 0


def test_password_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "registry.pass"
    secret.write_text("hunter2\n")
    secret.chmod(0o644)
    config = tmp_path / "corral.toml"
    config.write_text(
        '[[container]]\nimage = "a"\n\n[[registry]]\nhost = "r.example"\nusername = "u"\n'
        'password_file = "registry.pass"\n'
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{config}:7: registry[0].password_file: {secret} has mode 0644: a password file must "
        f"be readable by its owner only (chmod 600 {secret})"
    ]
    assert "hunter2" not in result.output
    secret.chmod(0o600)
    assert CliRunner().invoke(app, ["-c", str(config), "check"]).exit_code == 0


def test_lock_file_problems_are_located(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text('[[container]]\nimage = "r.example/app:1"\n')
    lock = tmp_path / "corral.lock"
    lock.write_text('version = 1\n[[image]]\nreference = "r.example/app:1"\ndigest = 3\n')
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"{lock}:4: image[0].digest: digest must look like sha256:" in result.output
    lock.write_text("version = 1\n[[image\n")
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.startswith(f"{lock}: the lock file is not valid TOML")
    digest = "sha256:" + "a" * 64
    lock.write_text(
        'version = 1\n\n[[image]]\nreference = "r.example/app:1"\n'
        f'digest = "{digest}"\nresolved = 2026-12-01T12:00:00Z\n\n'
        '[[image]]\nreference = "r.example/gone:2"\n'
        f'digest = "{digest}"\nresolved = 2026-12-01T12:00:00Z\n'
    )
    result = CliRunner().invoke(app, ["-c", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{lock}:9: image[1].reference: 'r.example/gone:2' is pinned, but no container of the "
        "configuration uses it (run `corral lock` to rewrite the lock)"
    ]
    lock.write_text(lock.read_text().split('\n\n[[image]]\nreference = "r.example/gone')[0])
    result = CliRunner().invoke(app, ["-c", str(config), "show"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"r.example/app@{digest}" in result.output
