"""``Process``: a plain program supervised like a Shepherd service."""

from __future__ import annotations

from typing import Literal

from pydantic import StrictBool, StrictStr, field_validator

from corral.config._base import Record
from corral.config._fields import Environment, Name, Seconds, Strings, fail, field
from corral.config.container import Action, RespawnLimit, RespawnLimitField, Signal


class Process(Record):
    """A host program run as a supervised service (supervisord's `[program]`)."""

    toml_name = "[process]"

    name: Name = field(doc="The service's name.")
    command: Strings = field(doc="The argv to run, not through a shell.")
    environment: Environment = field(
        (), doc="Extra environment (`K=V` strings or pairs), added to corral's own."
    )
    user: StrictStr | None = field(None, doc="Run as this user (corral must run as root).")
    group: StrictStr | None = field(None, doc="Run with this group.")
    working_directory: StrictStr | None = field(None, doc="Directory the command starts in.")
    log_file: StrictStr | None = field(
        None, doc="Receives stdout and stderr; default: `<state_dir>/logs/<name>.log`."
    )
    requirement: Strings = field(
        (), doc="Services that must be running before this one starts.", change="in_place"
    )
    auto_start: StrictBool = field(True, doc="Start with `corral up`.", change="in_place")
    respawn: StrictBool = field(
        False, doc="Restart the process when it exits (see respawn_on).", change="in_place"
    )
    respawn_on: Literal["exit", "failure"] = field(
        "exit",
        doc='When respawn applies: "exit" (any exit) or "failure" (a non-zero exit only). '
        "A `corral stop` is never undone by a respawn.",
        change="in_place",
    )
    respawn_limit: RespawnLimitField = field(
        default_factory=RespawnLimit,
        doc="At most `starts` starts in `seconds` (default 5 in 30), then the service is disabled.",
        change="in_place",
    )
    respawn_delay: Seconds = field(
        0.1,
        doc="Seconds before a respawn; doubles on each quick death, up to 30.",
        change="in_place",
    )
    one_shot: StrictBool = field(
        False, doc="Done when the command exits 0; dependents wait for that."
    )
    pid_file: StrictStr | None = field(
        None, doc="Running only once this file names a live process."
    )
    pid_file_timeout: Seconds = field(30.0, doc="Seconds to wait for pid_file.")
    ready_socket: StrictStr | None = field(
        None,
        doc="Running only once this accepts connections: a Unix socket path or `HOST:PORT`.",
    )
    stop_signal: Signal = field("SIGTERM", doc="Signal sent to the process group to stop it.")
    stop_timeout: Seconds = field(5.0, doc="Seconds between stop_signal and SIGKILL.")
    actions: tuple[Action, ...] = field(
        (), doc="Declared actions (name, command, documentation).", change="in_place"
    )

    @field_validator("command")
    @classmethod
    def _command_nonempty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise fail("command must name a program to run, but [] was found")
        return value
