"""The built-in actions are named once: the supervisor implements exactly those."""

from __future__ import annotations

from pathlib import Path

from corral.actions import BUILTIN_ACTIONS
from corral.config import load_text
from corral.supervisor.engines import EngineHub
from corral.supervisor.logs import LogFiles, Rotation
from corral.supervisor.reaper import Reaper
from corral.supervisor.respawn import SystemClock
from corral.supervisor.runner import RunContext
from corral.supervisor.supervisor import Supervisor


def test_the_supervisor_implements_exactly_the_builtin_actions(tmp_path: Path) -> None:
    context = RunContext(
        clock=SystemClock(), reaper=Reaper(), logs=LogFiles(Rotation()),
        state_dir=str(tmp_path), engines=EngineHub.for_config(None, str(tmp_path)),
    )  # fmt: skip
    supervisor = Supervisor(load_text("").config, context)
    assert set(supervisor._builtins) == set(BUILTIN_ACTIONS)
    assert "pull" in BUILTIN_ACTIONS and "command-line" in BUILTIN_ACTIONS
