"""Secret files: corral's own small tmpfs under its runtime directory (mounted
once, unmounted at ``down``), a 0700 directory per service on it, and in it one
file per secret, with its declared mode and owner, written whole (a new inode
renamed into place: a running container keeps the file it was started with).
The containers bind-mount those files read-only; the values are nowhere else."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil

from corral.config.container import Secret
from corral.errors import CorralError
from corral.render.spec import secret_file

#: The directory corral's secret tmpfs is mounted on, under its runtime directory.
SECRETS_DIR = "secrets"
TMPFS_OPTIONS = "size=4m,mode=0700"
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MNT_DETACH = 2


def secrets_dir(runtime_dir: str) -> str:
    return os.path.join(runtime_dir, SECRETS_DIR)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def is_mounted(path: str) -> bool:
    """Whether a filesystem is mounted exactly on ``path``."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as stream:
        for line in stream:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == target:
                return True
    return False


def mount_tmpfs(path: str) -> None:
    """Mount corral's secret tmpfs on ``path`` (made 0700) unless it is there."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if is_mounted(path):
        return
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    done = _libc().mount(b"corral-secrets", os.fsencode(path), b"tmpfs", flags,
                         TMPFS_OPTIONS.encode())  # fmt: skip
    if done != 0:
        code = ctypes.get_errno()
        raise CorralError(
            f"cannot mount a tmpfs for secrets on {path}: {os.strerror(code)} "
            "(secrets need corral to run as root)"
        )


def write_secrets(root: str, service: str, values: list[tuple[Secret, bytes]]) -> list[str]:
    """Write ``service``'s secret ``values`` under ``root`` (the tmpfs, mounted
    first); the host file of each, in order."""
    mount_tmpfs(root)
    directory = os.path.join(root, service)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    paths = []
    for i, (secret, value) in enumerate(values):
        path = secret_file(root, service, i)
        fresh = f"{path}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(fresh)
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, value)
            os.fchown(descriptor, secret.uid, secret.gid)
            os.fchmod(descriptor, secret.octal_mode)
        finally:
            os.close(descriptor)
        os.rename(fresh, path)
        paths.append(path)
    return paths


#: Where the CLI path's ``--env-file`` points: the engines' CLIs read env files by
#: rules of their own (no quotes, no ``export``), so corral hands the pairs it read
#: on the CLI's standard input, literally, a ``KEY=VALUE`` a line (no file, no argv).
CLI_ENV_FILE = "/dev/stdin"
#: What corral writes into the pipe before the CLI reads it (a pipe's buffer).
CLI_ENV_LIMIT = 60_000


def cli_env_text(service: str, pairs: tuple[tuple[str, str], ...]) -> bytes:
    """``pairs`` as the engine's CLI reads an env file. A value with a newline
    cannot be said so (the API path can)."""
    for key, value in pairs:
        if "\n" in value or "\r" in value:
            raise CorralError(
                f"the env file value of {key} spans lines, which the CLI create of "
                f"{service} (extra_arguments) cannot pass; the API path can"
            )
    text = "".join(f"{key}={value}\n" for key, value in pairs).encode()
    if len(text) > CLI_ENV_LIMIT:
        raise CorralError(f"the env files of {service} are too large for the CLI create")
    return text


def remove_service_secrets(root: str, service: str) -> None:
    """Remove ``service``'s secret files (its container is gone)."""
    shutil.rmtree(os.path.join(root, service), ignore_errors=True)


def remove_secrets(root: str) -> None:
    """Remove every secret file under ``root``, unmount the tmpfs, remove ``root``."""
    if not os.path.isdir(root):
        return
    if is_mounted(root):
        for entry in os.listdir(root):
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
        if _libc().umount2(os.fsencode(root), _MNT_DETACH) != 0:
            code = ctypes.get_errno()
            if code not in (errno.EINVAL, errno.ENOENT):
                raise CorralError(f"cannot unmount the secrets tmpfs {root}: {os.strerror(code)}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(root)
