"""Who may reach corral's control socket and state: the one home of those rules.

- A non-root user's default socket lives in ``$XDG_RUNTIME_DIR/corral``; with
  ``XDG_RUNTIME_DIR`` unset, or not the user's own private directory, corral
  refuses and says what to set (it never falls back to a guessable ``/tmp``
  path that another user could create first).
- Any directory corral keeps its socket, lock or state in is used only when
  it is a real directory (not a symlink) owned by the user corral runs as and
  not writable by group or others; corral creates a missing one 0700.
- The lock file is opened without following a symlink and never truncated;
  a path where the socket goes that is not a socket is refused, not removed.
- Peer credentials (``SO_PEERCRED``): the daemon answers root and its own uid
  only; the client talks only to a daemon run by root or by itself.

Light: the CLI imports it on every socket command.
"""

from __future__ import annotations

import os
import socket
import stat
import struct

from corral.errors import CorralError


class NotPrivate(CorralError):
    """A path corral would use for its socket or state is not safely its own."""


def _owner_name(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def runtime_dir() -> str:
    """``$XDG_RUNTIME_DIR/corral`` for the calling (non-root) user, checked."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    hint = (
        "set XDG_RUNTIME_DIR to a directory only you can write (your login manager "
        f"makes /run/user/{os.geteuid()}), or pass --socket PATH (CORRAL_SOCKET) in a "
        "directory of your own"
    )
    if not base:
        raise NotPrivate(f"XDG_RUNTIME_DIR is not set: {hint}")
    if not os.path.isabs(base):
        raise NotPrivate(f"XDG_RUNTIME_DIR={base} is not an absolute path: {hint}")
    problem = _problem(base)
    if problem is not None:
        raise NotPrivate(f"XDG_RUNTIME_DIR={base} {problem}: {hint}")
    return os.path.join(base, "corral")


def _problem(path: str) -> str | None:
    """Why directory ``path`` is not safely this user's, or None."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "does not exist"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if info.st_uid != os.geteuid():
        return f"is owned by {_owner_name(info.st_uid)}, not by {_owner_name(os.geteuid())}"
    if info.st_mode & 0o022:
        who = "others" if info.st_mode & 0o002 else "its group"
        return f"is writable by {who} (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def private_dir(path: str, what: str) -> str:
    """Make directory ``path`` (0700, with missing parents) unless it exists, then
    refuse it unless it is this user's own and writable by nobody else. ``what``
    names its use in the message ("socket directory", "state directory")."""
    path = os.path.abspath(path)
    if not os.path.lexists(path):
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as error:
            raise NotPrivate(f"cannot create the {what} {path}: {error.strerror}") from None
    problem = _problem(path)
    if problem is not None:
        raise NotPrivate(f"refusing the {what} {path}: it {problem}")
    return path


def open_lock(path: str) -> int:
    """Open (create 0600) lock file ``path`` without following a symlink or
    truncating it; refuse one that is not a regular file of this user's."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if os.path.islink(path):
            raise NotPrivate(f"refusing the lock file {path}: it is a symbolic link") from None
        raise NotPrivate(f"cannot open the lock file {path}: {error.strerror}") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_uid != os.geteuid():
        problem = f"is owned by {_owner_name(info.st_uid)}"
    if problem is not None:
        os.close(fd)
        raise NotPrivate(f"refusing the lock file {path}: it {problem}")
    return fd


def socket_in_the_way(path: str) -> str | None:
    """Why ``path`` cannot be a stale socket to replace (None: absent or a socket)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISSOCK(info.st_mode):
        return "is not a socket"
    if info.st_uid != os.geteuid():
        return f"is owned by {_owner_name(info.st_uid)}"
    return None


_UCRED = struct.Struct("3i")


def peer_uid(connection: socket.socket) -> int:
    """The uid of the process at the other end of Unix socket ``connection``."""
    data = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return int(_UCRED.unpack(data)[1])


def trusted(uid: int) -> bool:
    """Whether a peer with ``uid`` may talk to us: root, or our own uid."""
    return uid in (0, os.geteuid())


def refusal(uid: int) -> str:
    return (
        f"{_owner_name(uid)} may not use this corral daemon "
        f"(only root and {_owner_name(os.geteuid())} may)"
    )
