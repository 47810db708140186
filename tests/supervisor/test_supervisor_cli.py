"""End to end: the real `corral` CLI, a real daemon, real processes and socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

from sv_helpers import Corral, children_of, corral, wait_for

__all__ = ["corral"]


def recorder(name: str, record: Path, requirement: str = "", extra: str = "") -> str:
    """A service that records its start, writes its pid file (ready), records its stop."""
    pid_file = record.parent / f"{name}.pid"
    script = (
        f'trap "echo stop {name} >> {record}; exit 0" TERM; '
        f"echo start {name} >> {record}; echo $$ > {pid_file}; "
        "while :; do sleep 0.05; done"
    )
    needs = f"requirement = [{requirement}]\n" if requirement else ""
    return (
        f'[[process]]\nname = "{name}"\ncommand = ["sh", "-c", {json.dumps(script)}]\n'
        f'pid_file = "{pid_file}"\npid_file_timeout = 5.0\n{needs}{extra}\n'
    )


def chain(record: Path) -> str:
    # declared out of order on purpose; c needs b, b needs a, d needs a
    return recorder("c", record, '"b"') + recorder("b", record, '"a"') + recorder("a", record)


def lines(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def test_start_and_stop_follow_the_dependency_order(corral: Corral) -> None:
    record = corral.tmp / "record"
    corral.write(chain(record))
    corral.start_daemon()
    corral.run("start", "c")
    assert lines(record) == ["start a", "start b", "start c"]
    assert {s["state"] for s in corral.status().values()} == {"running"}
    corral.run("stop", "a")
    assert lines(record)[3:] == ["stop c", "stop b", "stop a"]
    assert {s["state"] for s in corral.status().values()} == {"stopped"}


def test_daemon_sigterm_stops_everything_in_reverse_order(corral: Corral) -> None:
    record = corral.tmp / "record"
    corral.write(chain(record))
    daemon = corral.start_daemon()
    corral.run("up")
    assert lines(record) == ["start a", "start b", "start c"]
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(15) == 0
    assert lines(record)[3:] == ["stop c", "stop b", "stop a"]
    assert not corral.socket.exists()


def test_up_starts_a_daemon_and_status_json(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "web"\ncommand = ["sleep", "60"]\n'
        '[[process]]\nname = "off"\ncommand = ["sleep", "60"]\nauto_start = false\n'
    )
    done = corral.run("up")
    assert done.returncode == 0
    status = corral.status_via_cli()
    assert set(status["web"]) == {
        "name",
        "kind",
        "state",
        "enabled",
        "pid",
        "restarts",
        "last_exit",
        "since",
        "reason",
        "log",
    }
    assert status["web"]["log"] is None  # nothing dropped
    assert status["web"]["state"] == "running" and status["web"]["kind"] == "process"
    assert status["off"]["state"] == "stopped"
    os.kill(int(status["web"]["pid"]), 0)
    mode = stat.S_IMODE(os.stat(corral.socket).st_mode)
    assert mode == 0o600
    assert (corral.state / "daemon.log").exists()
    corral.run("down")
    assert not corral.answers()


def test_up_names_the_failures(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "bad"\ncommand = ["/nonexistent/program"]\n'
        '[[process]]\nname = "good"\ncommand = ["sleep", "60"]\n'
    )
    done = corral.run("up", check=False)
    assert done.returncode == 1
    assert "bad" in done.stderr and "good" not in done.stderr.split("failed:")[-1]
    assert corral.status()["good"]["state"] == "running"


def test_daemon_up_starts_at_boot_and_a_client_up_shares_it(corral: Corral) -> None:
    record = corral.tmp / "record"
    slow_fail = (  # records each attempt; its pid file never comes, so the start fails
        f'[[process]]\nname = "bad"\ncommand = ["sh", "-c", "echo try >> {record}; sleep 60"]\n'
        f'pid_file = "{corral.tmp / "never.pid"}"\npid_file_timeout = 1.5\nrespawn = false\n'
    )
    corral.write(
        recorder("web", record) + recorder("off", record, extra="auto_start = false\n") + slow_fail
    )
    corral.start_daemon("--up")  # no request: the daemon starts the auto_start ones itself
    wait_for(lambda: corral.status()["web"]["state"] == "running")
    done = corral.run("up", check=False)  # arrives while the boot's start of bad runs
    assert done.returncode == 1 and "bad" in done.stderr
    assert lines(record).count("try") == 1  # one attempt, shared, not one per caller
    status = corral.status()
    assert status["web"]["state"] == "running" and status["off"]["state"] == "stopped"
    assert "start off" not in lines(record)


def test_client_without_daemon_says_one_line(corral: Corral) -> None:
    corral.write('[[process]]\nname = "x"\ncommand = ["true"]\n')
    done = corral.run("status", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "no corral daemon answers" in done.stderr and "Traceback" not in done.stderr


def test_second_daemon_is_refused_and_stale_socket_replaced(corral: Corral) -> None:
    corral.write('[[process]]\nname = "x"\ncommand = ["sleep", "60"]\n')
    daemon = corral.start_daemon()
    second = corral.run("daemon", check=False, timeout=10)
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert corral.answers()
    # a stale socket (its daemon killed) is replaced
    daemon.kill()
    daemon.wait(5)
    assert corral.socket.exists()
    corral.daemon = None
    corral.start_daemon()
    assert corral.answers()


def test_one_shot_runs_before_its_dependents(corral: Corral) -> None:
    record = corral.tmp / "record"
    corral.write(
        recorder("app", record, '"prepare"')
        + '[[process]]\nname = "prepare"\none_shot = true\n'
        + f'command = ["sh", "-c", "sleep 0.3; echo prepared >> {record}"]\n'
    )
    corral.start_daemon()
    corral.run("up")
    assert lines(record) == ["prepared", "start app"]
    status = corral.status()
    assert status["prepare"]["state"] == "stopped" and status["prepare"]["last_exit"] == 0
    assert status["app"]["state"] == "running"


def test_failing_one_shot_keeps_dependents_down(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "app"\ncommand = ["sleep", "60"]\nrequirement = ["prepare"]\n'
        '[[process]]\nname = "prepare"\none_shot = true\ncommand = ["sh", "-c", "exit 3"]\n'
    )
    corral.start_daemon()
    done = corral.run("up", check=False)
    assert done.returncode == 1 and "app" in done.stderr
    status = corral.status()
    assert status["app"]["state"] == "stopped" and status["prepare"]["last_exit"] == 3


def test_respawn_limit_disables_with_a_reason(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "flap"\ncommand = ["sh", "-c", "exit 7"]\nrespawn = true\n'
        "respawn_delay = 0.01\nrespawn_limit = [5, 30]\nauto_start = false\n"
    )
    corral.start_daemon()
    corral.run("start", "flap", check=False)
    status = wait_for(lambda: (s := corral.status()["flap"])["enabled"] is False and s)
    assert status["reason"] == "respawn limit: 5 starts in 30 s"
    assert status["restarts"] == 4 and status["last_exit"] == 7 and status["state"] == "stopped"
    refused = corral.run("start", "flap", check=False)
    assert refused.returncode == 1 and "disabled" in refused.stderr
    corral.run("enable", "flap")
    assert corral.status()["flap"]["reason"] is None


def test_declared_action_output_and_builtins(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "svc"\ncommand = ["sleep", "60"]\n'
        '[[process.actions]]\nname = "hello"\n'
        'command = ["sh", "-c", "echo hello from $CORRAL_SERVICE; echo err >&2"]\n'
        '[[process.actions]]\nname = "broken"\ncommand = ["sh", "-c", "echo nope; exit 4"]\n'
    )
    corral.start_daemon()
    corral.run("up")
    assert corral.run("action", "svc", "hello").stdout == "hello from svc\nerr\n"
    assert corral.run("action", "svc", "command-line").stdout.strip() == "sleep 60"
    assert json.loads(corral.run("action", "svc", "status").stdout)["state"] == "running"
    broken = corral.run("action", "svc", "broken", check=False)
    assert broken.returncode == 1 and "nope" in broken.stderr
    assert corral.run("action", "svc", "missing", check=False).returncode == 1


def test_stop_escalates_to_sigkill(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "stubborn"\n'
        'command = ["sh", "-c", "trap \\"\\" TERM; echo $$ > ' + str(corral.tmp / "p") + "; "
        'while :; do sleep 0.05; done"]\n'
        f'pid_file = "{corral.tmp / "p"}"\nstop_timeout = 0.5\n'
    )
    corral.start_daemon()
    corral.run("up")
    began = time.monotonic()
    corral.run("stop", "stubborn")
    took = time.monotonic() - began
    assert 0.4 < took < 5
    assert corral.status()["stubborn"]["last_exit"] == -signal.SIGKILL


def test_no_zombies_after_fifty_kills(corral: Corral) -> None:
    # a main process with a grandchild: both must go when main is killed
    corral.write(
        '[[process]]\nname = "victim"\ncommand = ["sh", "-c", "sleep 300 & exec sleep 300"]\n'
        "respawn = true\nrespawn_delay = 0.0\nrespawn_limit = [1000, 30]\n"
    )
    daemon = corral.start_daemon()
    corral.run("up")
    for _ in range(50):
        pid = wait_for(lambda: (s := corral.status()["victim"])["state"] == "running" and s["pid"])
        os.kill(int(pid), signal.SIGKILL)
        wait_for(lambda p=pid: corral.status()["victim"]["pid"] not in (None, p))
    time.sleep(0.3)
    children = children_of(daemon.pid)
    assert [c for c in children if c[1] == "Z"] == []
    # one live service: its sh/sleep, and at most its own grandchild
    assert len(children) <= 2, children
    assert corral.status()["victim"]["restarts"] == 50


def test_logs_rotate_and_follow_across_a_restart(corral: Corral) -> None:
    counter = corral.tmp / "n"
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
        "i=0; while [ $i -lt 80 ]; do echo run$n line$i; i=$((i+1)); done; exec sleep 60"
    )
    corral.write(f'[[process]]\nname = "talk"\ncommand = ["sh", "-c", {json.dumps(script)}]\n')
    corral.start_daemon("--log-max-bytes", "300", "--log-keep", "2")
    corral.run("up")
    log = corral.state / "logs" / "talk.log"
    wait_for(lambda: "line79" in corral.run("logs", "talk", "-n", "1").stdout)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o640
    assert (log.parent / "talk.log.1").exists() and (log.parent / "talk.log.2").exists()
    assert not (log.parent / "talk.log.3").exists()
    assert all(os.path.getsize(p) <= 300 for p in log.parent.iterdir())
    tail = corral.run("logs", "talk", "-n", "2").stdout.splitlines()
    assert tail == ["run1 line78", "run1 line79"]
    follower = subprocess.Popen(
        corral.argv("logs", "talk", "-f", "-n", "0"),
        env=corral.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.3)
        corral.run("restart", "talk")
        seen: list[str] = []
        assert follower.stdout is not None
        while "run2 line79" not in seen:
            seen.append(follower.stdout.readline().strip())
        assert "run2 line0" in seen
    finally:
        follower.kill()
        follower.wait()


def test_plan_and_reload_an_edited_config(corral: Corral) -> None:
    corral.write(
        '[[process]]\nname = "keep"\ncommand = ["sleep", "60"]\n'
        '[[process]]\nname = "change"\ncommand = ["sleep", "60"]\n'
        '[[process]]\nname = "drop"\ncommand = ["sleep", "60"]\n'
    )
    corral.start_daemon()
    corral.run("up")
    keep_pid = corral.status()["keep"]["pid"]
    assert corral.run("plan").stdout.strip() == "nothing to do"
    corral.write(
        '[[process]]\nname = "keep"\ncommand = ["sleep", "60"]\n'
        '[[process]]\nname = "change"\ncommand = ["sleep", "61"]\n'
        '[[process]]\nname = "new"\ncommand = ["sleep", "60"]\n'
    )
    planned = corral.run("plan").stdout.splitlines()
    assert planned == [
        "stop drop: no longer declared",
        "restart change: changed command",
        "start new: newly declared",
    ]
    assert set(corral.status()) == {"keep", "change", "drop"}
    assert corral.run("reload").stdout.splitlines() == planned
    status = corral.status()
    assert set(status) == {"keep", "change", "new"}
    assert status["keep"]["pid"] == keep_pid
    assert status["change"]["state"] == "running" and status["new"]["state"] == "running"
    assert corral.run("action", "change", "command-line").stdout.strip() == "sleep 61"
    assert corral.run("plan").stdout.strip() == "nothing to do"


def test_graph(corral: Corral) -> None:
    record = corral.tmp / "record"
    corral.write(chain(record))
    text = corral.run("graph").stdout.splitlines()
    assert [line.split()[0] for line in text] == ["a", "b", "c"]
    assert '"c" -> "b";' in corral.run("graph", "--dot").stdout


def test_daemon_notifies_systemd_when_ready(corral: Corral) -> None:
    corral.write('[[process]]\nname = "x"\ncommand = ["sleep", "60"]\n')
    address = str(corral.tmp / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(15)
        corral.start_daemon(env={"NOTIFY_SOCKET": address})
        assert listener.recv(100) == b"READY=1"
        assert corral.answers()


def test_up_with_an_invalid_config_exits_2(corral: Corral) -> None:
    corral.write('[[process]]\nname = "x"\ncommand = []\n')
    done = corral.run("up", check=False)
    assert done.returncode == 2
    assert "command" in done.stderr and "Traceback" not in done.stderr
