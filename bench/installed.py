"""Run corral in the benchmarks as an installed corral runs.

``pip install`` compiles a package's bytecode and puts a console script next
to the interpreter. A checkout installed with ``pip install -e`` under
``PYTHONDONTWRITEBYTECODE=1`` (as this machine's environment sets) has no
bytecode, so every start would compile corral's sources again, and ``corral``
on PATH may be a version manager's shell shim (pyenv's costs ~0.1 s a call).
The baselines (supervisord, Debian's docker-compose) run compiled and without
a shim, so corral does too.
"""

from __future__ import annotations

import compileall
import sys
from pathlib import Path


def corral_argv() -> list[str]:
    """The command that runs corral: this interpreter, no shim."""
    return [sys.executable, "-m", "corral"]


def compile_corral() -> None:
    """Write corral's bytecode, as ``pip install`` does."""
    import corral

    compileall.compile_dir(str(Path(corral.__file__).parent), quiet=1)
