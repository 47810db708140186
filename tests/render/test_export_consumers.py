"""The Kubernetes, systemd and Quadlet exports checked by their real consumers:
every manifest passes ``kubernetes-validate --strict`` for a current Kubernetes,
every unit ``systemd-analyze verify`` (system units, and user units with
``--user``), every Quadlet key is one Podman documents for its section
(podman-systemd.unit(5), ``quadlet_keys``), and where Podman's generator exists
(Podman >= 4.4, e.g. Debian 13) ``quadlet -dryrun`` turns the files into units.
On Debian 12 (Podman 4.3) there is no generator: that test says so and skips."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from export_helpers import CASES, VARIANTS, Variant, render

from corral.render.export import tables
from corral.render.export.quadlet_keys import KEYS, VALUES

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
QUADLET = Path("/usr/libexec/podman/quadlet")


def _variants(target: str) -> list[Variant]:
    return [v for v in VARIANTS if v.target == target]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed")
    return path


def _write(tmp_path: Path, case: str, variant: Variant, **more: object) -> list[Path]:
    exported = render(CASES[case], variant, **more)
    paths = []
    for name, text in exported.files.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(path)
    return paths


def kubernetes_version() -> str:
    """The newest Kubernetes whose schemas kubernetes-validate ships."""
    import kubernetes_validate.utils as utils  # type: ignore[import-untyped]

    return str(utils.latest_version())


@pytest.mark.parametrize("variant", _variants("kubernetes"), ids=lambda v: v.name)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kubernetes_validate_strict(tmp_path: Path, case: str, variant: Variant) -> None:
    validate = _tool("kubernetes-validate")
    paths = _write(tmp_path, case, variant)
    if not paths:
        assert case == "processes"  # no container: no manifest
        return
    done = subprocess.run(
        [validate, "--strict", "-k", kubernetes_version(), *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.findall(r"passed for resource (\S+)", done.stdout + done.stderr)
    documents = sum(p.read_text().count("\napiVersion:") + p.read_text().startswith("apiVersion")
                    for p in paths)  # fmt: skip
    assert len(passed) == documents > 0


@pytest.mark.parametrize("variant", _variants("systemd"), ids=lambda v: v.name)
@pytest.mark.parametrize("case", sorted(CASES))
def test_systemd_analyze_verify(tmp_path: Path, case: str, variant: Variant) -> None:
    """Every unit verifies, with the ExecStart binaries this machine has (the
    engine CLI's real path), and without a complaint on stderr."""
    analyze = _tool("systemd-analyze")
    runtime = shutil.which("docker") or "/usr/bin/docker"
    paths = _write(tmp_path, case, variant, runtime_path=runtime,
                   corral_path=shutil.which("corral") or "/usr/local/bin/corral")  # fmt: skip
    units = [str(p) for p in paths if p.suffix == ".service"]
    env = dict(os.environ)
    argv = [analyze, "verify", "--man=no", *units]
    if variant.settings.get("user"):
        runtime_dir = tmp_path / "xdg"
        runtime_dir.mkdir(mode=0o700)
        env["XDG_RUNTIME_DIR"] = str(runtime_dir)
        argv = [analyze, "--user", "verify", "--man=no", *units]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_systemd_verify_fails_on_a_bad_unit(tmp_path: Path) -> None:
    """The check can fail: a unit with a key systemd does not know is refused."""
    analyze = _tool("systemd-analyze")
    unit = tmp_path / "bad.service"
    unit.write_text("[Service]\nExecStart=/bin/true\nExecStartt=/bin/true\n")
    done = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert "Unknown key" in done.stderr


#: The systemd keys the Quadlet files use in [Unit], [Service] and [Install]
#: (systemd.unit(5), systemd.service(5)); Quadlet passes those sections through.
SYSTEMD_KEYS = {
    "Unit": {"Description", "Requires", "After", "StartLimitBurst", "StartLimitIntervalSec"},
    "Service": {"Restart", "RestartSec", "TimeoutStopSec", "Type", "RemainAfterExit"},
    "Install": {"WantedBy"},
}


def sections(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of each line of a unit-style file."""
    found: list[tuple[str, str, str]] = []
    section = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key, value))
    return found


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


@pytest.mark.parametrize("case", sorted(CASES))
def test_quadlet_keys_are_documented(tmp_path: Path, case: str) -> None:
    """Each key of each file is one Podman documents for that section (checked
    key by key); a key newer than Podman 5.0 is marked so in docs/exports.md."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "exports.md").read_text()
    quadlet_doc = doc.split("## Podman Quadlet", 1)[1]
    for path in _write(tmp_path, case, _variants("quadlet")[0]):
        expected = {".container": "Container", ".network": "Network", ".volume": "Volume"}
        main = expected[path.suffix]
        for section, key, value in sections(path.read_text()):
            if section in SYSTEMD_KEYS:
                assert key in SYSTEMD_KEYS[section], (path.name, section, key)
                continue
            assert section == main, (path.name, section)
            assert key in KEYS[section], f"{path.name}: [{section}] {key}= is not documented"
            since = VALUES.get((section, key, value), KEYS[section][key])
            if _version(since) > (5, 0):
                assert f"`{key}=` (Podman {since})" in quadlet_doc, (key, since)


def test_quadlet_rows_say_their_podman_version() -> None:
    """A row naming a key newer than 5.0 carries that release (``since``)."""
    for table in tables("quadlet")[1:]:  # type: ignore[arg-type]  # [0]: the top level
        section = {"OciContainer": "Container", "Network": "Network", "Volume": "Volume"}[
            table.record.__name__
        ]
        for row in table.rows:
            named = [k for k in re.findall(r"`(\w+)=", row.says) if k in KEYS[section]]
            if named:
                since = max((KEYS[section][k] for k in named), key=_version)
                expected = since if _version(since) > (5, 0) else ""
                assert row.since == expected, (row.field, named, since)


@pytest.mark.parametrize("case", sorted(CASES))
def test_quadlet_dryrun(tmp_path: Path, case: str) -> None:
    """Podman's own generator accepts the files (Podman >= 4.4: Debian 13). This
    machine's Podman 4.3 (Debian 12) has none, so there it is skipped, saying so."""
    if not QUADLET.exists():
        pytest.skip(f"{QUADLET} is absent (Podman < 4.4, e.g. Debian 12's 4.3): no generator")
    directory = tmp_path / "containers" / "systemd"
    directory.mkdir(parents=True)
    _write(directory, case, _variants("quadlet")[0])
    done = subprocess.run(
        [str(QUADLET), "-dryrun", "-no-kmsg-log"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "QUADLET_UNIT_DIRS": str(directory)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "converting" in done.stderr.lower() or done.stdout, done.stderr
    assert "error" not in done.stderr.lower(), done.stderr
