"""Activation: the accounts the engine CLI runs as.

When a container's ``group`` (default ``docker``) or ``user`` (default
``oci-container``) is missing, activation creates it — a system account,
home ``/var/empty``, shell nologin, in that group — before the first
container starts. ``plan_accounts`` is pure (``corral activate --dry-run``
prints it); ``apply_accounts`` runs it.
"""

from __future__ import annotations

import grp
import pwd
import shlex
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from corral.engine.runner import Invocation, run_cli

HOME = "/var/empty"
NOLOGIN_CANDIDATES = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")


@dataclass(frozen=True)
class AccountAction:
    kind: Literal["group", "user"]
    name: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return shlex.join(self.argv)


def useradd_argv(user: str, group: str, shell: str) -> tuple[str, ...]:
    return (
        "useradd", "--system", "--gid", group, "--home-dir", HOME,
        "--no-create-home", "--shell", shell, "--comment", "OCI container service", user,
    )  # fmt: skip


def groupadd_argv(group: str) -> tuple[str, ...]:
    return ("groupadd", "--system", group)


def plan_accounts(
    accounts: Iterable[tuple[str, str]],
    user_exists: Callable[[str], bool],
    group_exists: Callable[[str], bool],
    shell: str = "/usr/sbin/nologin",
) -> list[AccountAction]:
    """The actions that create what is missing of ``accounts`` ((user, group)
    pairs, e.g. each container's), groups first, each at most once. Pure."""
    groups: list[AccountAction] = []
    users: list[AccountAction] = []
    seen: set[tuple[str, str]] = set()
    for user, group in accounts:
        if ("group", group) not in seen and not group_exists(group):
            seen.add(("group", group))
            groups.append(AccountAction("group", group, groupadd_argv(group)))
        if ("user", user) not in seen and not user_exists(user):
            seen.add(("user", user))
            users.append(AccountAction("user", user, useradd_argv(user, group, shell)))
    return [*groups, *users]


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def nologin_shell() -> str:
    for candidate in NOLOGIN_CANDIDATES:
        if shutil.which(candidate):
            return candidate
    return NOLOGIN_CANDIDATES[0]


def plan_host_accounts(accounts: Iterable[tuple[str, str]]) -> list[AccountAction]:
    """``plan_accounts`` against this host's account database."""
    return plan_accounts(accounts, user_exists, group_exists, nologin_shell())


async def apply_accounts(actions: Iterable[AccountAction]) -> None:
    """Run the planned actions, in order (``CommandError`` on failure)."""
    for action in actions:
        await run_cli(action.argv, Invocation(timeout=60))
