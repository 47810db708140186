"""The version has one source: pyproject's, read from the package metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import corral


def test_version_is_the_package_metadata() -> None:
    assert corral.__version__ == version("corral")
    done = subprocess.run(["corral", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout == f"corral, version {version('corral')}\n"


def test_importing_corral_does_not_read_the_metadata() -> None:
    probe = "import sys, corral; print('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"
