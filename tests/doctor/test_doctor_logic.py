"""corral doctor's pure logic on files a test writes (the real host is checked
by tests/rootless): subordinate ranges, suggested ranges, cgroup v2
delegation, the unprivileged port start, the report formats."""

from __future__ import annotations

import json
from pathlib import Path

from corral.config import load
from corral.doctor import Finding, Host, diagnose, report_json, report_text
from corral.doctor.declared import cgroup_version, delegated_controllers
from corral.doctor.user import free_start, ranges

SUBUID = "alice:100000:65536\n1001:165536:1000\nbob:300000:65536\nbroken line\n"


def test_ranges_by_name_and_uid() -> None:
    assert ranges(SUBUID, "alice", 1001) == [(100000, 65536), (165536, 1000)]
    assert ranges(SUBUID, "carol", 1002) == []


def test_a_suggested_range_is_past_every_range() -> None:
    assert free_start("") == 131072  # 100000 rounded up to a multiple of 65536
    assert free_start(SUBUID) == 393216  # bob ends at 365536


def _host(tmp_path: Path, **files: str) -> Host:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir(exist_ok=True)
    return Host(
        uid=4242, environ={"PATH": "/usr/bin:/bin"},
        subuid=str(tmp_path / "subuid"), subgid=str(tmp_path / "subgid"),
        unprivileged_port_start=str(tmp_path / "ports"), cgroup_root=str(cgroup),
        self_cgroup=str(tmp_path / "self"), linger_dir=str(tmp_path / "linger"),
    )  # fmt: skip


def test_cgroup_v2_without_the_memory_controller_delegated(tmp_path: Path) -> None:
    host = _host(tmp_path, self="0::/user.slice/user-4242.slice/session-1.scope\n",
                 subuid="", subgid="", ports="1024\n")  # fmt: skip
    root = Path(host.cgroup_root)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    own = root / "user.slice/user-4242.slice/session-1.scope"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("pids\n")
    assert cgroup_version(host) == 2
    assert delegated_controllers(host) == {"pids"}
    config = tmp_path / "corral.toml"
    config.write_text(
        'runtime = "podman"\n[[container]]\nimage = "a:1"\nmemory = "64m"\npids_limit = 10\n'
        'ports = ["80:80", "8080:80"]\n'
    )
    loaded = load(str(config))
    found = {f.check: f for f in diagnose(loaded, host) if f.where}
    assert found["cgroup"].where == f"{tmp_path}/corral.toml:4: container[0].memory"
    assert "memory controller is not delegated" in found["cgroup"].message
    assert "Delegate=" in found["cgroup"].fix
    assert found["port"].where == f"{tmp_path}/corral.toml:6: container[0].ports[0]"
    assert [f.where for f in diagnose(loaded, host) if f.check == "port"] == [found["port"].where]
    everything = diagnose(loaded, host)
    assert {f.check for f in everything} >= {"subuid", "subgid", "runtime-dir", "linger"}
    assert [f.level for f in everything] == sorted(
        (f.level for f in everything), key=lambda level: level != "error"
    )


def test_reports(tmp_path: Path) -> None:
    host = _host(tmp_path, subuid="", subgid="")
    finding = Finding("error", "subuid", "/etc/subuid", "no range", "usermod --add-subuids …")
    text = report_text([finding], host)
    assert text.splitlines()[:2] == [
        "error: /etc/subuid: no range",
        "  fix: usermod --add-subuids …",
    ]
    report = json.loads(report_json([finding], host))
    assert report["ok"] is False and report["uid"] == 4242 and report["rootless"] is True
    assert report["findings"][0]["check"] == "subuid"
    assert report_text([], Host(uid=0)) == "ok: nothing to fix for root"
