"""The owner and the process runner in-process, with an injected clock."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from corral.config import load_text
from corral.supervisor.engines import EngineHub
from corral.supervisor.logs import LogFile, LogFiles, Rotation
from corral.supervisor.reaper import Reaper
from corral.supervisor.runner import RunContext
from corral.supervisor.supervisor import Supervisor


class FakeClock:
    """Monotonic time that only moves when someone sleeps; records the sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0.001)


def run_with(config_text: str, tmp: Path, body, clock=None):  # type: ignore[no-untyped-def]
    async def main() -> object:
        loop = asyncio.get_running_loop()
        reaper = Reaper()
        reaper.install(loop)
        context = RunContext(
            clock=clock or FakeClock(),
            reaper=reaper,
            logs=LogFiles(Rotation()),
            state_dir=str(tmp),
            engines=EngineHub.for_config(None, str(tmp)),
        )
        supervisor = Supervisor(load_text(config_text).config, context)
        finish = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(supervisor.run(finish))
                await supervisor.ready.wait()
                try:
                    return await asyncio.wait_for(body(supervisor), 20)
                finally:
                    finish.set()
        finally:
            reaper.uninstall()

    return asyncio.run(main())


def test_respawn_backoff_and_limit_with_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    config = (
        '[[process]]\nname = "flap"\ncommand = ["sh", "-c", "exit 3"]\n'
        "respawn = true\nrespawn_delay = 0.25\nrespawn_limit = [5, 30]\n"
    )

    async def body(supervisor: Supervisor) -> dict[str, object]:
        await supervisor.up()
        owner = supervisor.owner("flap")
        while owner.state.enabled:
            await asyncio.sleep(0.01)
        return owner.view()

    view = run_with(config, tmp_path, body, clock)
    respawn_sleeps = [s for s in clock.sleeps if s >= 0.25]
    assert respawn_sleeps == [0.25, 0.5, 1.0, 2.0]
    assert view["reason"] == "respawn limit: 5 starts in 30 s"
    assert view["restarts"] == 4 and view["last_exit"] == 3


def test_readiness_times_out_on_the_injected_clock(tmp_path: Path) -> None:
    config = (
        '[[process]]\nname = "slow"\ncommand = ["sleep", "30"]\n'
        f'pid_file = "{tmp_path / "never.pid"}"\npid_file_timeout = 2.0\n'
    )

    async def body(supervisor: Supervisor) -> dict[str, object]:
        failures = await supervisor.up()
        assert "slow" in failures
        return supervisor.owner("slow").view()

    view = run_with(config, tmp_path, body)
    assert view["state"] == "stopped"
    assert "did not appear within 2 s" in str(view["reason"])


def test_stop_kills_the_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild"
    config = (
        '[[process]]\nname = "tree"\n'
        f'command = ["sh", "-c", "sleep 300 & echo $! > {marker}; wait"]\n'
    )

    async def body(supervisor: Supervisor) -> int:
        await supervisor.up()
        while not marker.exists() or not marker.read_text().strip():
            await asyncio.sleep(0.01)
        await supervisor.stop("tree")
        grandchild = int(marker.read_text())
        for _ in range(200):  # killed with its group, and reaped by the subreaper
            if not os.path.exists(f"/proc/{grandchild}"):
                return grandchild
            await asyncio.sleep(0.01)
        return grandchild

    grandchild = run_with(config, tmp_path, body, clock=None)
    with pytest.raises(ProcessLookupError):
        os.kill(grandchild, 0)


def test_container_without_an_engine_fails_clearly(tmp_path: Path) -> None:
    from corral.engine.endpoint import at

    config = '[[container]]\nimage = "localhost/web:1"\nprovision = "web"\n'
    dead = str(tmp_path / "no-engine.sock")

    async def body(supervisor: Supervisor) -> dict[str, str]:
        supervisor.context.engines = EngineHub(lambda runtime: at(runtime, dead))
        return await supervisor.up()

    failures = run_with(config, tmp_path, body)
    assert failures["web"] == (
        f"web: cannot start: docker at {dead} does not answer: No such file or directory"
    )


def test_log_file_rotates_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "x.log"
    log = LogFile(str(path), Rotation(max_bytes=100, keep=3))
    for i in range(50):
        log.write(f"line {i:04d}\n".encode())
    log.close()
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["x.log", "x.log.1", "x.log.2", "x.log.3"]
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert path.read_text().endswith("line 0049\n")
    assert all(p.stat().st_size <= 100 for p in path.parent.iterdir())
    log = LogFile(str(path), Rotation())
    log.write(b"opened\n")
    os.rename(path, tmp_path / "moved")
    log.write(b"before\n")  # still the moved file until reopen
    log.reopen()
    log.write(b"after\n")
    log.close()
    assert path.read_text() == "after\n"
    assert (tmp_path / "moved").read_text().endswith("before\n")


def test_respawn_on_failure_respawns_a_failed_exit_only(tmp_path: Path) -> None:
    """respawn_on = "failure" (Compose's on-failure): exit 0 is the end; a
    non-zero exit respawns, up to the limit (on-failure:N is its starts)."""
    clock = FakeClock()
    config = (
        '[[process]]\nname = "fine"\ncommand = ["true"]\n'
        'respawn = true\nrespawn_on = "failure"\nrespawn_delay = 0.25\n'
        '[[process]]\nname = "broken"\ncommand = ["sh", "-c", "exit 2"]\n'
        'respawn = true\nrespawn_on = "failure"\nrespawn_delay = 0.25\nrespawn_limit = [3, 30]\n'
        '[[process]]\nname = "any"\ncommand = ["true"]\n'
        "respawn = true\nrespawn_delay = 0.25\nrespawn_limit = [2, 30]\n"
    )

    async def body(supervisor: Supervisor) -> dict[str, dict[str, object]]:
        await supervisor.up()
        for name in ("broken", "any"):
            while supervisor.owner(name).state.enabled:
                await asyncio.sleep(0.01)
        fine = supervisor.owner("fine")
        while fine.state.status != "stopped":
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # past any respawn it could have had
        return {n: supervisor.owner(n).view() for n in ("fine", "broken", "any")}

    views = run_with(config, tmp_path, body, clock)
    assert views["fine"]["restarts"] == 0 and views["fine"]["last_exit"] == 0
    assert views["fine"]["enabled"] is True
    assert views["broken"]["restarts"] == 2 and views["broken"]["last_exit"] == 2
    assert views["any"]["restarts"] == 1  # "exit": exit 0 respawns too
