"""The exit-code contract (README): 2 for an invalid configuration on every
command that reads one (``reload`` and ``plan`` through the daemon included),
1 for a failed operation — whose message names the service once."""

from __future__ import annotations

import pytest
from sv_helpers import Corral, corral

__all__ = ["corral"]

VALID = '[[process]]\nname = "web"\ncommand = ["sleep", "60"]\n'
INVALID = '[[process]]\nname = "web"\ncommand = ["sleep", "60"]\nrespawn = "yes"\n'
PROBLEM = 'process[0].respawn: must be true or false, but "yes" was found'

#: Every command that reads the configuration, without a daemon.
OFFLINE = [
    ["check"],
    ["check", "--host"],
    ["doctor"],
    ["show"],
    ["show", "web"],
    ["command-line", "web"],
    ["graph"],
    ["activate", "--dry-run"],
    ["image", "build", "web"],
    ["image", "load", "web"],
    ["logs", "web"],
    ["up"],
    ["daemon"],
]


@pytest.mark.parametrize("argv", OFFLINE, ids=[" ".join(a) for a in OFFLINE])
def test_an_invalid_configuration_exits_2(corral: Corral, argv: list[str]) -> None:
    corral.write(INVALID)
    done = corral.run(*argv, check=False, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert f"{corral.config}:4: {PROBLEM}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not corral.answers()


@pytest.mark.parametrize("op", ["reload", "plan"])
def test_an_invalid_file_given_to_the_daemon_exits_2(corral: Corral, op: str) -> None:
    corral.write(VALID)
    corral.run("up")
    corral.write(INVALID)
    done = corral.run(op, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{corral.config}:4: {PROBLEM}" in done.stderr, done.stderr
    assert corral.status()["web"]["state"] == "running"  # nothing applied
    corral.run("down")


def test_a_failed_start_names_the_service_once(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "bad"\ncommand = ["/nonexistent/prog"]\n'
        '[[process]]\nname = "nouser"\ncommand = ["sleep", "1"]\nuser = "relb-no-such-user"\n'
        '[[process]]\nname = "after"\ncommand = ["sleep", "60"]\nrequirement = ["bad"]\n'
    )
    done = corral.run("up", check=False)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert (
        "failed: bad: cannot start: /nonexistent/prog: cannot run: No such file or directory"
        in lines
    )
    assert "failed: nouser: cannot start: no such user 'relb-no-such-user'" in lines
    assert (
        "failed: after: requirement bad failed: cannot start: /nonexistent/prog: "
        "cannot run: No such file or directory"
    ) in lines, lines
    assert corral.status()["nouser"]["reason"] == "cannot start: no such user 'relb-no-such-user'"
    corral.run("down")
