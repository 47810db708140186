"""The host as ``corral doctor`` reads it: the user, and where each fact lives
(the real places by default; a test points them elsewhere)."""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field


def _environ() -> Mapping[str, str]:
    return os.environ


@dataclass(frozen=True)
class Host:
    uid: int = field(default_factory=os.geteuid)
    environ: Mapping[str, str] = field(default_factory=_environ)
    subuid: str = "/etc/subuid"
    subgid: str = "/etc/subgid"
    unprivileged_port_start: str = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
    cgroup_root: str = "/sys/fs/cgroup"
    self_cgroup: str = "/proc/self/cgroup"
    linger_dir: str = "/var/lib/systemd/linger"
    #: where Debian's docker.io keeps dockerd-rootless.sh (not on PATH)
    docker_contrib: str = "/usr/share/docker.io/contrib"

    @property
    def user(self) -> str:
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return str(self.uid)

    @property
    def group(self) -> str:
        import grp

        try:
            return grp.getgrgid(pwd.getpwuid(self.uid).pw_gid).gr_name
        except KeyError:
            return str(self.uid)

    def which(self, program: str) -> str | None:
        """``program`` on ``PATH`` (with the sbin directories a plain user may lack)."""
        path = self.environ.get("PATH", os.defpath)
        return shutil.which(program, path=f"{path}:/usr/sbin:/usr/bin:/sbin:/bin")

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                return stream.read()
        except OSError:
            return None
