"""The command line: thin commands over the configuration, supervisor and image layers.

Commands live in ``config_commands``, ``service_commands`` and ``image_commands``
and are imported only when used (see ``_app.COMMAND_MODULES``).
"""

from __future__ import annotations

from corral.cli._app import app


def main() -> None:
    app(prog_name="corral")


__all__ = ["app", "main"]
