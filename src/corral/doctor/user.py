"""The checks of the user itself (no declaration needed): id ranges, the
setuid id mappers, a network helper, the runtime directory, boot start, and
the engine's CLI (or Docker rootless) for the configured runtime."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from corral.doctor._finding import Finding
from corral.doctor._host import Host

#: The ids rootless Podman maps by default (and most images' files need: 65534 is nobody).
ID_RANGE = 65536
#: Where suggested ranges start (shadow's own SUB_UID_MIN).
RANGE_FLOOR = 100000


def ranges(text: str, user: str, uid: int) -> list[tuple[int, int]]:
    """The (start, count) ranges of ``/etc/subuid``-style ``text`` for ``user`` (name or uid)."""
    found: list[tuple[int, int]] = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            found.append((int(parts[1]), int(parts[2])))
        except ValueError:
            continue
    return found


def free_start(text: str) -> int:
    """A range start past every range in ``text`` (a multiple of 65536, at least 100000)."""
    end = RANGE_FLOOR
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            end = max(end, int(parts[1]) + int(parts[2]))
    return -(-end // ID_RANGE) * ID_RANGE


def id_ranges(host: Host) -> Iterator[Finding]:
    for path, kind, flag in ((host.subuid, "uid", "subuids"), (host.subgid, "gid", "subgids")):
        text = host.read(path)
        have = ranges(text or "", host.user, host.uid)
        count = sum(c for _, c in have)
        start = free_start(text or "")
        fix = (
            f"usermod --add-{flag} {start}-{start + ID_RANGE - 1} {host.user} (as root), "
            "then podman system migrate"
        )
        if text is None:
            message = f"{path} cannot be read: no subordinate {kind}s for rootless containers"
        elif not have:
            message = (
                f"no subordinate {kind} range for {host.user} (uid {host.uid}): rootless "
                f"containers need {ID_RANGE} {kind}s there"
            )
        elif count < ID_RANGE:
            message = (
                f"{host.user} has {count} subordinate {kind}s, fewer than the {ID_RANGE} "
                "rootless containers need (files of higher ids in an image cannot be mapped)"
            )
        else:
            continue
        yield Finding("error", f"sub{kind}", path, message, fix)


def id_mappers(host: Host) -> Iterator[Finding]:
    for program in ("newuidmap", "newgidmap"):
        path = host.which(program)
        if path is None:
            yield Finding(
                "error", program, program,
                f"{program} is not installed: rootless containers cannot map their ids",
                "apt-get install uidmap (as root)",
            )  # fmt: skip
            continue
        info = os.stat(path)
        setuid = info.st_mode & stat.S_ISUID and info.st_uid == 0
        if not setuid and not _has_capabilities(path):
            yield Finding(
                "error", program, path,
                f"{path} is neither setuid root nor given file capabilities: it cannot "
                "write another user's id maps",
                f"chown root {path} && chmod u+s {path} (as root)",
            )  # fmt: skip


def _has_capabilities(path: str) -> bool:
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


def network_helper(host: Host) -> Iterator[Finding]:
    if host.which("slirp4netns") or host.which("pasta"):
        return
    yield Finding(
        "error", "network-helper", "slirp4netns",
        "neither slirp4netns nor pasta is installed: rootless containers get no network "
        "and publish no ports",
        "apt-get install slirp4netns (as root)",
    )  # fmt: skip


def runtime_dir(host: Host) -> Iterator[Finding]:
    base = host.environ.get("XDG_RUNTIME_DIR")
    wanted = f"/run/user/{host.uid}"
    make = (
        f"install -d -m 0700 -o {host.user} -g {host.group} {wanted} (as root; a login "
        f"through systemd-logind makes it), then export XDG_RUNTIME_DIR={wanted}"
    )
    if not base:
        yield Finding(
            "error", "runtime-dir", "XDG_RUNTIME_DIR",
            "is not set: corral's socket and rootless Podman's runtime files live there",
            make,
        )  # fmt: skip
        return
    try:
        info = os.lstat(base)
    except OSError:
        yield Finding(
            "error", "runtime-dir", "XDG_RUNTIME_DIR",
            f"{base} does not exist",
            make if base == wanted else f"install -d -m 0700 {base}",
        )  # fmt: skip
        return
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != host.uid:
        yield Finding(
            "error", "runtime-dir", "XDG_RUNTIME_DIR",
            f"{base} is not a directory owned by {host.user} (uid {host.uid})",
            make,
        )  # fmt: skip
    elif info.st_mode & 0o077:
        yield Finding(
            "error", "runtime-dir", "XDG_RUNTIME_DIR",
            f"{base} is open to others (mode {stat.S_IMODE(info.st_mode):04o}); it must be 0700",
            f"chmod 0700 {base}",
        )  # fmt: skip


def linger(host: Host) -> Iterator[Finding]:
    path = os.path.join(host.linger_dir, host.user)
    if os.path.exists(path):
        return
    yield Finding(
        "warning", "linger", path,
        f"systemd does not keep {host.user}'s services without a login (no linger): "
        "a user unit (contrib/corral-user.service) will not start at boot",
        f"loginctl enable-linger {host.user}",
    )  # fmt: skip


def engine_cli(host: Host, runtime: str) -> Iterator[Finding]:
    if host.which(runtime) is None:
        package = "podman" if runtime == "podman" else "docker.io"
        yield Finding(
            "error", "engine", runtime,
            f"the {runtime} command is not installed (runtime = {runtime!r})",
            f"apt-get install {package} (as root)",
        )  # fmt: skip


def docker_rootless(host: Host) -> Iterator[Finding]:
    """For runtime docker as a user other than root with no DOCKER_HOST: a Docker
    rootless daemon (dockerd-rootless.sh under RootlessKit) must answer."""
    from corral.engine.endpoint import rootless_docker

    if host.environ.get("DOCKER_HOST") or rootless_docker(host.environ) is not None:
        return
    script = host.which("dockerd-rootless.sh")
    contrib = os.path.join(host.docker_contrib, "dockerd-rootless.sh")
    if script is None and os.path.exists(contrib):
        script = contrib
    socket = os.path.join(host.environ.get("XDG_RUNTIME_DIR", f"/run/user/{host.uid}"),
                          "docker.sock")  # fmt: skip
    if script is None:
        yield Finding(
            "error", "docker-rootless", "dockerd-rootless.sh",
            f"Docker rootless is not installed (no dockerd-rootless.sh on PATH nor in "
            f"{host.docker_contrib}), and {host.user} cannot use root's dockerd",
            "install Docker's rootless extras (dockerd-rootless.sh, rootlesskit) and run "
            'dockerd-rootless-setuptool.sh install, or set runtime = "podman"',
        )  # fmt: skip
        return
    missing = "" if host.which("rootlesskit") else " (and rootlesskit is not installed: " \
        "apt-get install rootlesskit)"  # fmt: skip
    yield Finding(
        "error", "docker-rootless", socket,
        f"no Docker rootless daemon answers on {socket}{missing}; DOCKER_HOST is not set",
        f"{script} & (or systemctl --user start docker), or export DOCKER_HOST=unix://PATH",
    )  # fmt: skip
