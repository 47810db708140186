"""Table tests of the pure transition function and the respawn policy."""

from __future__ import annotations

import pytest

from corral.supervisor import state as st
from corral.supervisor.respawn import History, RespawnPolicy, decide, started

S = st.State
NOW = 100.0

TABLE: list[tuple[st.State, st.Event, st.State]] = [
    # start
    (S(), st.Start(), S(status="starting", since=NOW)),
    (S(restarts=2), st.Start(respawn=True), S(status="starting", restarts=3, since=NOW)),
    (S(enabled=False, reason="disabled"), st.Start(), S(enabled=False, reason="disabled")),
    (S(status="running", handle="1"), st.Start(), S(status="running", handle="1")),
    (S(reason="exited with status 1"), st.Start(), S(status="starting", since=NOW)),
    # launched, ready
    (S(status="starting"), st.Launched("42"), S(status="starting", handle="42")),
    (S(status="stopping"), st.Launched("42"), S(status="stopping", handle="42")),
    (S(status="starting", handle="42"), st.Ready(), S(status="running", handle="42", since=NOW)),
    (S(status="starting"), st.Ready(), S(status="starting")),
    (S(status="stopping", handle="42"), st.Ready(), S(status="stopping", handle="42")),
    (S(status="stopped"), st.Launched("42"), S(status="stopped")),
    # exits
    (
        S(status="running", handle="42"),
        st.Exited(1),
        S(last_exit=1, since=NOW, reason="exited with status 1"),
    ),
    (
        S(status="starting", handle="42"),
        st.Exited(2),
        S(last_exit=2, since=NOW, reason="exited with status 2 while starting"),
    ),
    (S(status="stopping", handle="42"), st.Exited(-15), S(last_exit=-15, since=NOW)),
    (S(), st.Exited(0), S()),
    # one_shot done
    (S(status="starting", handle="7"), st.Done(), S(last_exit=0, since=NOW, reason=st.DONE)),
    (S(), st.Done(), S()),
    # failures
    (S(status="starting"), st.Failed("cannot start: x"), S(since=NOW, reason="cannot start: x")),
    (
        S(status="starting", handle="9"),
        st.Failed("not ready", None),
        S(status="stopping", handle="9", since=NOW, reason="not ready"),
    ),
    (
        S(status="stopping", handle="9"),
        st.Failed("not ready", 3),
        S(status="stopping", handle="9", reason="not ready", last_exit=3),
    ),
    (S(status="stopping"), st.Failed("boom"), S(since=NOW, reason="boom")),
    (S(status="running", handle="9"), st.Failed("late"), S(status="running", handle="9")),
    # stop
    (S(status="running", handle="9"), st.Stop(), S(status="stopping", handle="9", since=NOW)),
    (S(status="starting"), st.Stop(), S(status="stopping", since=NOW)),
    (S(), st.Stop(), S()),
    (S(status="stopping", handle="9"), st.Stop(), S(status="stopping", handle="9")),
    # a note: why it is as it is changed, not the status (a stop that failed, retried)
    (
        S(status="stopping", handle="9"),
        st.Note("cannot stop: x; retrying"),
        S(status="stopping", handle="9", reason="cannot stop: x; retrying"),
    ),
    (S(status="stopping", handle="9", reason="y"), st.Note(None), S(status="stopping", handle="9")),
    # enable, disable: beside the status
    (
        S(status="running", handle="9"),
        st.Disable("disabled"),
        S(status="running", handle="9", enabled=False, reason="disabled"),
    ),
    (S(enabled=False, reason="respawn limit: 5 starts in 30 s"), st.Enable(), S()),
]


@pytest.mark.parametrize(("before", "event", "after"), TABLE)
def test_transition(before: st.State, event: st.Event, after: st.State) -> None:
    assert st.transition(before, event, NOW) == after


def test_transition_is_pure() -> None:
    before = S(status="running", handle="1")
    st.transition(before, st.Stop(), NOW)
    assert before == S(status="running", handle="1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def test_backoff_doubles_to_the_cap() -> None:
    clock = FakeClock()
    policy = RespawnPolicy(limit_starts=100, limit_seconds=1000, delay=0.5)
    history = started(History(), policy, clock.now)
    delays = []
    for _ in range(9):
        decision = decide(history, policy, clock.advance(0.1))
        assert decision.respawn
        delays.append(decision.delay)
        history = started(decision.history, policy, clock.advance(decision.delay))
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_resets_after_a_stable_run() -> None:
    clock = FakeClock()
    policy = RespawnPolicy(limit_starts=100, limit_seconds=30, delay=1)
    history = started(History(), policy, clock.now)
    for expected in (1, 2, 4):
        decision = decide(history, policy, clock.advance(0.1))
        assert decision.delay == expected
        history = started(decision.history, policy, clock.advance(decision.delay))
    decision = decide(history, policy, clock.advance(45))  # ran 45 s: stable
    assert decision.delay == 1


def test_limit_counts_starts_in_the_window() -> None:
    clock = FakeClock()
    policy = RespawnPolicy(limit_starts=5, limit_seconds=30, delay=0)
    history = started(History(), policy, clock.now)
    for _ in range(4):
        decision = decide(history, policy, clock.advance(1))
        assert decision.respawn
        history = started(decision.history, policy, clock.now)
    decision = decide(history, policy, clock.advance(1))
    assert not decision.respawn
    assert decision.reason == "respawn limit: 5 starts in 30 s"


def test_old_starts_fall_out_of_the_window() -> None:
    clock = FakeClock()
    policy = RespawnPolicy(limit_starts=3, limit_seconds=10, delay=0)
    history = History()
    for _ in range(20):  # one death every 6 s: never 3 starts within 10 s
        history = started(history, policy, clock.now)
        decision = decide(history, policy, clock.advance(6))
        assert decision.respawn
        history = decision.history
