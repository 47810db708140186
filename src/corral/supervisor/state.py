"""A service's state and its pure transition function.

Four statuses exist (stopped, starting, running, stopping). Whether the
service is enabled, how often it was respawned, its last exit status, when the
status last changed and why are data beside the status, not more statuses.

``transition(state, event, now)`` is pure: the owner of a service (see
``service.py``) feeds it every event and acts on the result. An event that
makes no sense in the current status leaves the state as it is; the owner
decides what to answer the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Status = Literal["stopped", "starting", "running", "stopping"]

DONE = "done"


@dataclass(frozen=True)
class State:
    status: Status = "stopped"
    enabled: bool = True
    restarts: int = 0
    last_exit: int | None = None
    since: float = 0.0
    reason: str | None = None
    handle: str | None = None


# Events ---------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """A start was granted (by a caller, or by the respawn policy when ``respawn``)."""

    respawn: bool = False


@dataclass(frozen=True)
class Launched:
    """The runner launched the service; ``handle`` is a pid or a container id."""

    handle: str


@dataclass(frozen=True)
class Ready:
    """The service is ready: its process is up and its readiness check passed."""


@dataclass(frozen=True)
class Exited:
    """The service's process ended with ``code`` (None: unknown)."""

    code: int | None


@dataclass(frozen=True)
class Failed:
    """The start failed (launch error, readiness timeout, one_shot non-zero).

    A service still launched goes to stopping (the owner stops it); one that
    is not goes to stopped. The reason stays until the next start."""

    reason: str
    code: int | None = None


@dataclass(frozen=True)
class Done:
    """A one_shot's command exited 0: it is done, and its dependents may start."""


@dataclass(frozen=True)
class Stop:
    """A stop was granted."""


@dataclass(frozen=True)
class Note:
    """Why the service is as it is changed, its status did not (a stop failed
    and is retried; it then succeeded)."""

    reason: str | None


@dataclass(frozen=True)
class Enable:
    pass


@dataclass(frozen=True)
class Disable:
    reason: str


Event = Start | Launched | Ready | Exited | Done | Failed | Stop | Note | Enable | Disable


def transition(state: State, event: Event, now: float) -> State:
    """The state after ``event`` at wall-clock time ``now``."""
    status = state.status

    def moved(new: Status, **changes: object) -> State:
        return replace(state, status=new, since=now, **changes)  # type: ignore[arg-type]

    match event:
        case Note(reason=reason):
            return replace(state, reason=reason)
        case Enable():
            return replace(state, enabled=True, reason=None)
        case Disable(reason=reason):
            return replace(state, enabled=False, reason=reason)
        case Start(respawn=respawn) if status == "stopped" and state.enabled:
            restarts = state.restarts + 1 if respawn else state.restarts
            return moved("starting", restarts=restarts, reason=None, handle=None)
        case Launched(handle=handle) if status in ("starting", "stopping"):
            return replace(state, handle=handle)
        case Ready() if status == "starting":
            if state.handle is None:
                return state
            return moved("running")
        case Exited(code=code) if status in ("starting", "running", "stopping"):
            why = state.reason
            if status == "starting":
                why = f"exited with status {code} while starting"
            elif status == "running":
                why = f"exited with status {code}"
            return moved("stopped", last_exit=code, handle=None, reason=why)
        case Done() if status in ("starting", "running"):
            return moved("stopped", last_exit=0, handle=None, reason=DONE)
        case Failed(reason=reason, code=code) if status in ("starting", "stopping"):
            # still launched: it must be stopped first; else it is stopped now
            last_exit = code if code is not None else state.last_exit
            if state.handle is None:
                return moved("stopped", reason=reason, last_exit=last_exit)
            if status == "stopping":
                return replace(state, reason=reason, last_exit=last_exit)
            return moved("stopping", reason=reason, last_exit=last_exit)
        case Stop() if status in ("starting", "running"):
            return moved("stopping", reason=None)
        case _:
            return state
