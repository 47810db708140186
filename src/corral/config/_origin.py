"""Where a record was declared in a Python configuration file.

The Python loader sets ``loading_file`` while it executes ``corral.py``; each
record built meanwhile remembers the line of the call that built it, so
whole-config errors (duplicate names, cycles, port collisions) point at the
right line of a Python file just as they do for TOML.
"""

from __future__ import annotations

import contextvars
import sys

loading_file: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "corral_loading_file", default=None
)


def caller_line() -> int | None:
    """The line of the configuration file being loaded that is running now."""
    path = loading_file.get()
    if path is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == path:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None
