"""Fixtures of the status page tests: a daemon serving the page on our ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sv_helpers import Corral, wait_for
from webhelp import Answer, call, free_port


class PageCorral(Corral):
    """A corral whose daemon serves the page on ``port``."""

    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.state / "web-token").read_text().strip()

    def dashboard(self) -> str:
        return self.run("dashboard").stdout.strip()

    def get(self, path: str, **headers: str) -> Answer:
        return call(self.base + path, headers={"Authorization": f"Bearer {self.token}", **headers})

    def post(self, path: str, **headers: str) -> Answer:
        return call(
            self.base + path,
            "POST",
            headers={"Authorization": f"Bearer {self.token}", **headers},
        )

    def wait_page(self) -> None:
        wait_for(lambda: (self.state / "web-url").exists() or self.daemon_died(), 30)


def make(tmp: Path) -> PageCorral:
    corral = PageCorral(
        tmp=tmp, config=tmp / "corral.toml", socket=tmp / "run" / "corral.sock", state=tmp / "state"
    )
    corral.port = free_port()
    return corral


@pytest.fixture
def page_corral(tmp_path: Path) -> Iterator[PageCorral]:
    corral = make(tmp_path)
    try:
        yield corral
    finally:
        if corral.answers():
            corral.run("down", check=False, timeout=120)
        corral.teardown()
