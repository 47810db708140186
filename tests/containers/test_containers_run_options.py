"""Issue 15's run options on real engines: one container per runtime, created by
corral's daemon through the Engine API with limits and hardening, checked from
inside (cgroup files, ``ulimit``, a write that fails and one that succeeds) and
by ``inspect``."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import engines
import pytest
from sv_helpers import Corral

from corral.config.loader import load
from corral.render import container_spec, create_document

pytestmark = pytest.mark.engine

MIB = 1 << 20


def _exec(runtime: str, name: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runtime, "exec", name, "sh", "-c", script], capture_output=True, text=True, timeout=30
    )


def _cgroup(runtime: str, name: str, v1: str, v2: str) -> str | None:
    """A cgroup file of the container as it sees it (v1 path, else v2), or None."""
    done = _exec(runtime, name, f"cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}")
    return done.stdout.strip() if done.returncode == 0 else None


def test_limits_and_hardening_seen_from_inside(corral: Corral, runtime: str) -> None:
    name = f"opts-{uuid.uuid4().hex[:6]}"
    # docker's --init needs docker-init, podman's catatonit (not installed here)
    init = "init = true\n" if runtime == "docker" else ""
    # podman 4.3 has no --domainname, and its API ignores Domainname (check refuses it)
    domain = 'domainname = "corral.test"\n' if runtime == "docker" else ""
    corral.write(
        f'runtime = "{runtime}"\n[[container]]\nprovision = "{name}"\n'
        f'image = "{engines.busybox_image(runtime)}"\ncommand = ["sleep", "600"]\n'
        f"stop_timeout = 1\n{domain}"
        'memory = "64m"\nmemory_reservation = "32m"\ncpus = 0.5\ncpu_shares = 512\n'
        'pids_limit = 64\nshm_size = "16m"\noom_score_adj = 100\n'
        "ulimits = { nofile = [512, 1024], nproc = 256 }\n"
        'read_only = true\ncap_drop = ["ALL"]\ntmpfs = ["/scratch:size=1m"]\n'
        f"no_new_privileges = true\n{init}"
        'sysctls = { "net.core.somaxconn" = 1000 }\n'
        'dns = ["10.0.0.53"]\ndns_search = ["corral.test"]\ndns_options = ["ndots:3"]\n'
        'extra_hosts = ["db.corral.test:10.1.2.3"]\n'
        'expose = ["7000/udp"]\ngroup_add = ["1000"]\ntty = true\nstdin_open = true\n'
    )
    (declared,) = load(str(corral.config)).config.containers
    assert create_document(container_spec(declared, name, runtime)) is not None  # the API path
    corral.run("up", timeout=120)
    assert corral.status()[name]["state"] == "running"

    # -- from inside ---------------------------------------------------------
    assert _cgroup(runtime, name, "memory/memory.limit_in_bytes", "memory.max") == str(64 * MIB)
    assert _cgroup(runtime, name, "pids/pids.max", "pids.max") == "64"
    quota = _cgroup(runtime, name, "cpu/cpu.cfs_quota_us", "cpu.max")
    assert quota in ("50000", "50000 100000")
    assert _cgroup(runtime, name, "cpu/cpu.shares", "cpu.weight") in ("512", "20")
    # the container's own process (podman exec's processes may get other limits)
    limits = {
        line[:26].strip(): line[26:].split()[:2]
        for line in _exec(runtime, name, "cat /proc/1/limits").stdout.splitlines()[1:]
    }
    assert limits["Max open files"] == ["512", "1024"]
    assert limits["Max processes"] == ["256", "256"]
    assert _exec(runtime, name, "ulimit -Hn").stdout.strip() == "1024"
    denied = _exec(runtime, name, "touch /written")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert _exec(runtime, name, "touch /scratch/written && ls /scratch").stdout == "written\n"
    status = dict(
        line.split(":\t", 1)
        for line in _exec(runtime, name, "cat /proc/self/status").stdout.splitlines()
        if ":\t" in line
    )
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"
    mounts = _exec(runtime, name, "cat /proc/mounts").stdout
    assert any(m.split()[1] == "/dev/shm" and "size=16384k" in m for m in mounts.splitlines())
    scratch = [m for m in mounts.splitlines() if m.split()[1] == "/scratch"]
    assert scratch and "size=1024k" in scratch[0]
    assert _exec(runtime, name, "cat /proc/1/oom_score_adj").stdout.strip() == "100"
    assert _exec(runtime, name, "cat /proc/sys/net/core/somaxconn").stdout.strip() == "1000"
    resolv = _exec(runtime, name, "cat /etc/resolv.conf").stdout
    assert "nameserver 10.0.0.53" in resolv and "corral.test" in resolv and "ndots:3" in resolv
    assert "10.1.2.3" in _exec(runtime, name, "grep db.corral.test /etc/hosts").stdout
    assert "1000" in _exec(runtime, name, "id -G").stdout.split()
    if init:
        assert "init" in _exec(runtime, name, "cat /proc/1/cmdline").stdout

    # -- by inspect ----------------------------------------------------------
    done = subprocess.run([runtime, "inspect", name], capture_output=True, text=True, check=True)
    document: dict[str, Any] = json.loads(done.stdout)[0]
    host, config = document["HostConfig"], document["Config"]
    assert host["Memory"] == 64 * MIB and host["MemoryReservation"] == 32 * MIB
    assert host["NanoCpus"] == 500_000_000 or host["CpuQuota"] == 50000
    assert host["PidsLimit"] == 64 and host["ShmSize"] == 16 * MIB
    assert host["ReadonlyRootfs"] is True and host["OomScoreAdj"] == 100
    # podman's inspect keeps exposed ports under NetworkSettings.Ports
    exposed = config.get("ExposedPorts") or document["NetworkSettings"]["Ports"]
    assert "7000/udp" in exposed
    assert config["Domainname"] == ("corral.test" if domain else "")
    assert config["Tty"] is True and config["OpenStdin"] is True


def test_devices_capabilities_and_the_rest_seen_from_inside(corral: Corral, runtime: str) -> None:
    name = f"opts-{uuid.uuid4().hex[:6]}"
    network = f"{name}-net"  # podman 4.3's API takes a MAC address only on a network
    corral.write(
        f'runtime = "{runtime}"\n[[network]]\nname = "{network}"\n'
        f'[[container]]\nprovision = "{name}"\nnetwork = "{network}"\n'
        f'image = "{engines.busybox_image(runtime)}"\ncommand = ["sleep", "600"]\n'
        'stop_timeout = 1\nmemory = "64m"\nmemory_swap = "128m"\ncpuset = "0"\n'
        'devices = ["/dev/null:/dev/corral-null:rw"]\ncap_add = ["NET_ADMIN"]\n'
        'security_opt = ["seccomp=unconfined"]\nuserns = "host"\n'
        'mac_address = "02:42:ac:11:00:42"\nplatform = "linux/amd64"\n'
    )
    (declared,) = load(str(corral.config)).config.containers
    assert create_document(container_spec(declared, name, runtime)) is not None  # the API path
    corral.run("up", timeout=120)
    assert corral.status()[name]["state"] == "running"

    swap = _cgroup(runtime, name, "memory/memory.memsw.limit_in_bytes", "memory.swap.max")
    assert swap in (str(128 * MIB), str(64 * MIB))  # v1: memory + swap; v2: swap alone
    assert _cgroup(runtime, name, "cpuset/cpuset.cpus", "cpuset.cpus.effective") == "0"
    written = _exec(runtime, name, "echo x > /dev/corral-null && echo written")
    assert written.stdout == "written\n", written.stderr
    status = dict(
        line.split(":\t", 1)
        for line in _exec(runtime, name, "cat /proc/self/status").stdout.splitlines()
        if ":\t" in line
    )
    assert int(status["CapEff"], 16) & (1 << 12)  # CAP_NET_ADMIN
    assert status["Seccomp"].strip() == "0"
    mac = _exec(runtime, name, "cat /sys/class/net/eth0/address").stdout.strip()
    assert mac == "02:42:ac:11:00:42"

    done = subprocess.run([runtime, "inspect", name], capture_output=True, text=True, check=True)
    host = json.loads(done.stdout)[0]["HostConfig"]
    assert host["MemorySwap"] == 128 * MIB and host["CpusetCpus"] == "0"
    assert "seccomp=unconfined" in host["SecurityOpt"]
    corral.run("down", "--volumes", timeout=120)  # the network too
