"""The command line: thin commands over the configuration, supervisor and image layers."""

from __future__ import annotations

from corral.cli import config_commands as config_commands
from corral.cli._app import app


def main() -> None:
    app(prog_name="corral")


__all__ = ["app", "main"]
