"""The engine under test in the engine layer's tests: its runtime name, its
busybox image and its API socket (made by the ``rt`` fixture in conftest)."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    name: str
    image: str
    socket: str

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.name, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def force_remove(self, *names: str) -> None:
        for name in names:
            extra = ["--time", "0"] if self.name == "podman" else []
            self.cli("rm", "-f", *extra, name)

    def unique(self, what: str) -> str:
        return f"corral-t-{what}-{self.name}-{uuid.uuid4().hex[:8]}"
