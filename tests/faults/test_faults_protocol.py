"""Garbage, wrong types and oversized lines on the control socket: every one
answered ``bad-request`` naming the field (never ``internal``), the connection
and the daemon going on; random requests (hypothesis) never crash the daemon.
And the CLI's deadlines against a daemon that never answers."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _relb import Corral, ask, corral
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.control.protocol import ARGUMENTS, MAX_LINE

__all__ = ["corral"]

SLEEPER = '[[process]]\nname = "s"\ncommand = ["sleep", "60"]\n'

# (raw line, words the bad-request message must contain)
GARBAGE: list[tuple[bytes, str]] = [
    (b"not json\n", "not a JSON line"),
    (b"\n", "not a JSON line"),
    (b"\xff\xfe\x00garbage\n", "not a JSON line"),
    (b"[1, 2]\n", "a message is a JSON object"),
    (b'"ping"\n', "a message is a JSON object"),
    (b'{"op": "ping"}\n', "v: unsupported protocol version null"),
    (b'{"v": "1", "op": "ping"}\n', 'v: unsupported protocol version "1"'),
    (b'{"v": true, "op": "ping"}\n', "v: unsupported protocol version true"),
    (b'{"v": 2, "op": "ping"}\n', "v: unsupported protocol version 2"),
    (b'{"v": 1}\n', "op: expected a string, got null"),
    (b'{"v": 1, "op": 7}\n', "op: expected a string, got 7"),
    (b'{"v": 1, "op": "explode"}\n', 'op: unknown op "explode"'),
    (b'{"v": 1, "op": "start"}\n', "names: missing (list of strings)"),
    (b'{"v": 1, "op": "start", "names": "s"}\n', 'names: expected list of strings, got "s"'),
    (b'{"v": 1, "op": "stop", "names": [1]}\n', "names: expected list of strings, got [1]"),
    (b'{"v": 1, "op": "status", "name": 5}\n', "name: expected string, got 5"),
    (b'{"v": 1, "op": "status", "name": ["s"]}\n', 'name: expected string, got ["s"]'),
    (b'{"v": 1, "op": "action", "name": "s"}\n', "action: missing (string)"),
    (b'{"v": 1, "op": "action", "name": {}, "action": 1}\n', "name: expected string, got {}"),
    (b'{"v": 1, "op": "down", "volumes": "yes"}\n', 'volumes: expected boolean, got "yes"'),
    (b'{"v": 1, "op": "reload"}\n', "config: missing (string)"),
    (b'{"v": 1, "op": "plan", "config": null}\n', "config: expected string, got null"),
    (b'{"v": 1, "op": "log_source", "name": 1.5}\n', "name: expected string, got 1.5"),
    (b'{"v": 1, "op": "ping", "extra": 1}\n', "extra: unknown argument of ping"),
    (b"[" * 200000 + b"\n", "not a JSON line"),  # nesting past the recursion limit
]


@pytest.fixture
def daemon(corral: Corral) -> Corral:
    corral.write(SLEEPER)
    corral.start_daemon()
    return corral


@pytest.mark.parametrize(("line", "words"), GARBAGE, ids=[str(i) for i in range(len(GARBAGE))])
def test_garbage_is_a_bad_request_naming_the_field(daemon: Corral, line: bytes, words: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(20)
        connection.connect(str(daemon.socket))
        answer = ask(daemon.socket, line, connection)
        assert answer["ok"] is False
        assert answer["error"]["code"] == "bad-request", answer
        assert words in answer["error"]["message"], answer
        # the same connection goes on
        assert ask(daemon.socket, b'{"v":1,"op":"ping"}\n', connection)["ok"] is True


def test_an_oversized_line_is_answered_and_the_connection_goes_on(daemon: Corral) -> None:
    big = b'{"v": 1, "op": "status", "name": "' + b"x" * (10 << 20) + b'"}\n'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(30)
        connection.connect(str(daemon.socket))
        sender = threading.Thread(target=connection.sendall, args=(big,))
        sender.start()  # the answer may come before the line is all sent
        data = b""
        while not data.endswith(b"\n"):
            chunk = connection.recv(65536)
            assert chunk, "closed without an answer"
            data += chunk
        sender.join(30)
        answer = json.loads(data)
        assert answer["error"]["code"] == "bad-request"
        assert f"request line longer than {MAX_LINE} bytes" in answer["error"]["message"]
        assert ask(daemon.socket, b'{"v":1,"op":"ping"}\n', connection)["ok"] is True
    # and a line without an end, then the connection closed: the daemon is fine
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(str(daemon.socket))
        connection.sendall(b"x" * (2 * MAX_LINE))
    assert daemon.answers()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
#: ``down`` would stop the daemon, ``up`` start the sleeper, ``watch`` streams on (its
#: own tests in tests/web): every other op, any arguments.
OPS = sorted(set(ARGUMENTS) - {"down", "up", "watch"})


def _request(op: str, arguments: dict[str, Any], v: Any) -> bytes:
    return json.dumps({"v": v, "op": op, **arguments}).encode() + b"\n"


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    op = draw(st.sampled_from([*OPS, "nope"]))
    names = [*ARGUMENTS.get(op, {}), "names", "name", "config", "zzz"]
    arguments = draw(st.dictionaries(st.sampled_from(names), JSON, max_size=4))
    arguments.pop("v", None)
    arguments.pop("op", None)
    v = draw(st.sampled_from([1, 1, 1, 0, "1", None]))
    return _request(op, arguments, v)


def test_random_requests_never_crash_the_daemon_nor_answer_internal(daemon: Corral) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(60)
        connection.connect(str(daemon.socket))
        codes: set[str] = set()

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(line=requests())
        def one(line: bytes) -> None:
            answer = ask(daemon.socket, line, connection)
            assert answer.get("v") == 1 and isinstance(answer.get("ok"), bool), answer
            if not answer["ok"]:
                code = answer["error"]["code"]
                assert code in ("bad-request", "failed", "invalid-config"), (line, answer)
                codes.add(code)

        one()
        assert "bad-request" in codes
    assert daemon.answers()
    assert daemon.daemon is not None and daemon.daemon.poll() is None
    status = daemon.status()
    assert set(status) == {"s"}


def test_the_cli_deadline_says_what_it_waited_for(tmp_path: Path) -> None:
    """A 'daemon' that accepts and never answers: `status` gives up after its
    --timeout with exit 3, saying what it waited for; `up` likewise."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    path = run / "corral.sock"
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(path))
    mute.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        mute.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(mute.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    config = tmp_path / "corral.toml"
    config.write_text(SLEEPER)
    base = ["corral", "-c", str(config), "--socket", str(path)]
    try:
        began = time.monotonic()
        done = subprocess.run([*base, "status", "--timeout", "1"], capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        took = time.monotonic() - began
        assert done.returncode == 3, done.stderr
        assert done.stderr == (
            f"corral: no answer to `status` within 1 s: waiting for the daemon to finish "
            f"`status` on {path}\n"
        )
        assert took < 10
        done = subprocess.run([*base, "stop", "s", "--timeout", "0.5"], capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        assert done.returncode == 3 and "no answer to `stop` within 0.5 s" in done.stderr
        done = subprocess.run(
            [*base, "status", "--timeout", "0"], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 2 and "--timeout" in done.stderr  # usage: exit 2
    finally:
        stop.set()
        acceptor.join()
        for connection in held:
            connection.close()
        mute.close()


def test_up_past_its_deadline_names_what_is_not_running(corral: Corral) -> None:
    """A service that never gets ready: `up --timeout 3` exits 3 naming it."""
    corral.write(
        SLEEPER + '[[process]]\nname = "slow"\ncommand = ["sleep", "60"]\n'
        f'ready_socket = "{corral.tmp}/never.sock"\n'
    )
    began = time.monotonic()
    done = corral.run("up", "--timeout", "3", check=False, timeout=60)
    assert done.returncode == 3, done.stderr
    assert time.monotonic() - began < 20
    assert "no answer to `up` within " in done.stderr
    assert done.stderr.rstrip().endswith(
        "still waiting for slow (starting) (the daemon goes on: see `corral status`)"
    ), done.stderr
    assert corral.status()["s"]["state"] == "running"
