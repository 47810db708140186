"""The one chokepoint through which corral runs engine CLI commands.

Every ``docker``/``podman`` invocation goes through ``run_cli``: it runs the
command as the container's ``user``/``group`` when corral is root and they
exist, puts host_environment in the child's environment only (never in argv,
never in corral's own environment, never in a message), logs the argv at
debug level, and raises ``CommandError`` when the command fails.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import pwd
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from corral.errors import CommandError
from corral.runtimes import Runtime

log = logging.getLogger("corral.engine")

#: What replaces a secret value found in a command's output.
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Identity:
    """Who a CLI command runs as: None means corral's own user/group."""

    user: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Invocation:
    """Everything needed to run one CLI command (but the argv)."""

    identity: Identity = Identity()
    #: ``K=V`` (or bare ``K``, taken from corral's environment) entries.
    host_environment: tuple[str, ...] = ()
    timeout: float | None = None
    #: The child's standard input (else /dev/null), e.g. a pipe's read end. ``run_cli``
    #: takes ownership: it closes it in corral as soon as the child has it, or fails.
    stdin_fd: int | None = None


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    stdout: str
    stderr: str


def cli_identity(runtime: Runtime, user: str, group: str, *, euid: int | None = None) -> Identity:
    """The identity the engine CLI runs as for a container declared with
    ``user``/``group``.

    Only root can switch, and only to accounts that exist. Podman's CLI keeps
    root: under another user it would be *rootless* Podman, with another
    image store and no access to the containers corral manages.
    """
    if (os.geteuid() if euid is None else euid) != 0 or runtime == "podman":
        return Identity()
    return Identity(
        user=user if _user_exists(user) else None,
        group=group if _group_exists(group) else None,
    )


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def child_environment(
    host_environment: Sequence[str],
    identity: Identity,
    base: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The CLI's environment: corral's own, then ``extra``, then host_environment.

    A bare ``K`` in host_environment passes corral's own value of K, if any.
    Under another user HOME points at a place it can read (its home), so the
    CLI does not try to read root's configuration.
    """
    source = dict(os.environ if base is None else base)
    env = dict(source)
    if identity.user is not None:
        env["HOME"] = pwd.getpwnam(identity.user).pw_dir
        env["USER"] = env["LOGNAME"] = identity.user
    env.update(extra or {})
    for entry in host_environment:
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
        elif key in source:
            env[key] = source[key]
    return env


def secret_values(host_environment: Sequence[str]) -> list[str]:
    """The values of host_environment, longest first (for redaction)."""
    values = [e.partition("=")[2] for e in host_environment if "=" in e]
    return sorted((v for v in values if v), key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    for value in secrets:
        text = text.replace(value, REDACTED)
    return text


async def run_cli(argv: Sequence[str], invocation: Invocation | None = None) -> Completed:
    """Run ``argv``; return its output, or raise ``CommandError`` (secrets redacted)."""
    argv = tuple(argv)
    invocation = invocation or Invocation()
    secrets = secret_values(invocation.host_environment)
    try:
        proc = _spawn(argv, invocation, secrets)
    finally:
        if invocation.stdin_fd is not None:
            os.close(invocation.stdin_fd)  # the child has its own copy now
    exited = watch_child(proc)
    try:
        out, err, code = await asyncio.wait_for(_collect(proc, exited), invocation.timeout)
    except TimeoutError:
        proc.kill()
        await exited
        raise CommandError(argv, -9, stderr=f"timed out after {invocation.timeout:g}s") from None
    finally:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    proc.returncode = code
    stdout = redact(out.decode(errors="replace"), secrets)
    stderr = redact(err.decode(errors="replace"), secrets)
    if code != 0:
        raise CommandError(argv, code, stdout, stderr)
    return Completed(argv, stdout, stderr)


def _spawn(
    argv: tuple[str, ...], invocation: Invocation, secrets: Sequence[str]
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (never with a secret in it), logged, in its environment."""
    for arg in argv:
        if any(s in arg for s in secrets):
            # Never run it: the secret would be visible in ps and /proc.
            raise CommandError(
                tuple(redact(a, secrets) for a in argv),
                -1,
                stderr="refusing to run: a host_environment value appears in the argv",
            )
    identity = invocation.identity
    log.debug(
        "%s%s",
        shlex.join(argv),
        f" (as {identity.user or '-'}:{identity.group or '-'})"
        if identity.user or identity.group
        else "",
    )
    env = child_environment(invocation.host_environment, identity)
    stdin = subprocess.DEVNULL if invocation.stdin_fd is None else invocation.stdin_fd
    try:
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            user=identity.user,
            group=identity.group,
            # Without this, a switched user keeps root's supplementary groups.
            extra_groups=[identity.group] if identity.group else ([] if identity.user else None),
            cwd="/",
        )
    except OSError as exc:
        raise CommandError(argv, 127, stderr=f"cannot run {argv[0]}: {exc}") from exc


async def _collect(
    proc: subprocess.Popen[bytes], exited: asyncio.Future[int]
) -> tuple[bytes, bytes, int]:
    """Both output streams to their end, then the exit code, without ``waitpid``."""
    assert proc.stdout is not None and proc.stderr is not None
    out, err = await asyncio.gather(
        asyncio.to_thread(proc.stdout.read), asyncio.to_thread(proc.stderr.read)
    )
    return out, err, await exited


class ChildWaiter(Protocol):
    """Who waits for the CLI's exit. Inside the supervisor daemon that must be its
    reaper (the only caller of ``waitpid`` there); elsewhere a thread does."""

    def watch(self, process: subprocess.Popen[bytes]) -> asyncio.Future[int]: ...


class ThreadWaiter:
    def watch(self, process: subprocess.Popen[bytes]) -> asyncio.Future[int]:
        return asyncio.ensure_future(asyncio.to_thread(process.wait))


_waiter: ChildWaiter = ThreadWaiter()


def watch_child(process: subprocess.Popen[bytes]) -> asyncio.Future[int]:
    """A future of ``process``'s exit code. Call it right after spawning, before
    any ``await``: inside the daemon its reaper must know the pid first."""
    return _waiter.watch(process)


def use_child_waiter(waiter: ChildWaiter | None) -> None:
    """Route every CLI exit through ``waiter`` (the daemon's reaper); None restores threads."""
    global _waiter
    _waiter = waiter if waiter is not None else ThreadWaiter()
