"""The compose corpus: each tests/compose/corpus/NAME.yaml, imported, gives
NAME.toml (the golden: values and comments), which corral loads; and
``-c NAME.yaml`` converts in memory to the same configuration.

Regenerate the goldens after a deliberate change with
``CORRAL_REGENERATE_GOLDEN=1 pytest tests/compose/test_compose_corpus.py``
(and read the diff)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from corral.config import load, load_text
from corral.config.compose import convert, read_project
from corral.config.compose.writer import to_toml

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
#: The variables the corpus's interpolations read are left unset.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("TAG", "MESSAGE", "API_PORT")}


def imported(path: Path) -> str:
    project = read_project([str(path)], environ=CLEAN_ENV)
    return to_toml(convert(project, base=str(CORPUS)), [str(path)])


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_import_matches_the_golden(path: Path) -> None:
    golden = path.with_suffix(".toml")
    text = imported(path)
    if os.environ.get("CORRAL_REGENERATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_loads_and_equals_the_in_memory_conversion(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TAG", "MESSAGE", "API_PORT", "CORRAL_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    golden = path.with_suffix(".toml")
    from_toml = load_text(golden.read_text(), str(golden)).config
    from_yaml = load(str(path), lock=False).config
    assert from_yaml == from_toml
    assert from_toml.containers, "every corpus file declares services"


def test_the_corpus_covers_every_key_corral_converts() -> None:
    """Each service key the converter maps appears in some corpus file, and so do
    some of those it leaves out."""
    from corral.config.compose.keys import RENAMED, SIZES, UNSUPPORTED

    seen: set[str] = set()
    for path in FILES:
        project = read_project([str(path)], environ=CLEAN_ENV)
        for service in project.model.get("services", {}).values():
            seen.update(service)
    seen.update({"extends"})  # resolved away by reading: anchors_extends.yaml uses it
    converted = {
        *RENAMED,
        *SIZES,
        "image",
        "build",
        "environment",
        "env_file",
        "ports",
        "volumes",
        "networks",
        "network_mode",
        "secrets",
        "healthcheck",
        "deploy",
        "ulimits",
        "sysctls",
        "extra_hosts",
        "labels",
        "stop_grace_period",
        "pull_policy",
        "restart",
        "depends_on",
        "command",
        "entrypoint",
        "container_name",
        "links",
    }
    assert converted - seen == set()
    assert len(set(UNSUPPORTED) & seen) >= 5


def test_the_written_file_is_what_corral_import_compose_writes(tmp_path: Path) -> None:
    source = CORPUS / "lifecycle.yaml"
    out = tmp_path / "corral.toml"
    done = subprocess.run(
        [sys.executable, "-m", "corral", "import", "compose", "-f", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "4 services, 1 networks, 0 volumes, 0 secret mounts converted" in done.stdout
    # paths outside the output's directory are written in full
    text = out.read_text()
    assert f'context = "{CORPUS / "files" / "app"}"' in text
    assert load_text(text, str(out)).config.containers[0].one_shot


def test_the_summary_names_each_key_left_out_by_service(tmp_path: Path) -> None:
    out = tmp_path / "corral.toml"
    done = subprocess.run(
        [sys.executable, "-m", "corral", "import", "compose", "-f",
         str(CORPUS / "unsupported.yaml"), "-o", str(out)],
        capture_output=True, text=True, env=CLEAN_ENV, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"wrote {out}: 2 services, 1 networks, 0 volumes, 0 secret mounts converted",
        "10 keys not converted (comments in the file):",
        "  top level:",
        "    version: obsolete: Compose ignores it",
        "    x-owner: an extension field: its anchors are already applied",
        "  services.legacy:",
        "    logging: corral keeps the container's log itself (log_file)",
        "    volumes_from: corral has no volumes_from; name the volumes",
        "    ipc: corral has no IPC namespace option",
        "    cgroup_parent: corral has no cgroup parent option",
        "    deploy: corral takes deploy.resources' cpus, memory and pids; the rest is for an "
        "orchestrator",
        "    x-note: an extension field",
        "  services.other:",
        '    pull_policy: corral\'s pull has no "build"',
        "    scale: corral runs one container per declaration",
    ]
