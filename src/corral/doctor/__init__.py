"""``corral doctor``: what the host must give the user corral runs as, checked
before anything starts, each finding naming the file or setting and the
command that fixes it.

For a user other than root (rootless Podman, or Docker rootless):
subordinate uid/gid ranges (``/etc/subuid``, ``/etc/subgid``), setuid
``newuidmap``/``newgidmap``, a network helper (slirp4netns or pasta),
``XDG_RUNTIME_DIR``, boot start (systemd linger); for the declared containers,
published ports below ``net.ipv4.ip_unprivileged_port_start`` and resource
limits the cgroup setup cannot enforce (cgroups v1, or v2 without the
controllers delegated). For root only the engine's CLI is looked for: the rest
are rootless matters. Errors make ``doctor``, ``up`` and ``check --host``
fail; warnings are printed only.

Light: ``up`` runs it as any user other than root, before the daemon starts.
"""

from __future__ import annotations

from corral.doctor._finding import Finding, Level, errors
from corral.doctor._host import Host
from corral.doctor.run import diagnose, report_json, report_text

__all__ = ["Finding", "Host", "Level", "diagnose", "errors", "report_json", "report_text"]
