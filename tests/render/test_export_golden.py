"""Golden exports: every target (and its flags) on the bundled examples and on a
config that uses every field. Regenerate after an intended change with
``CORRAL_UPDATE_GOLDEN=1 pytest tests/render/test_export_golden.py``."""

from __future__ import annotations

import importlib
import shutil

import pytest
from export_helpers import CASES, VARIANTS, Variant, golden_dir, golden_files, update_requested

from corral.config import OciContainer
from corral.config.network import Network, Volume
from corral.render.export import TARGETS, tables


def _available(variant: Variant) -> bool:
    try:
        importlib.import_module(f"corral.render.export.{variant.target}")
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize("variant", [v for v in VARIANTS if _available(v)], ids=lambda v: v.name)
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_golden(case_name: str, variant: Variant) -> None:
    files = golden_files(CASES[case_name], variant)
    directory = golden_dir(case_name, variant)
    if update_requested():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name, text in files.items():
            (directory / name).write_text(text)
    committed = {p.name: p.read_text() for p in sorted(directory.iterdir())}
    assert sorted(committed) == sorted(files), f"{directory}: other files"
    for name, text in files.items():
        assert committed[name] == text, f"{directory / name} differs (CORRAL_UPDATE_GOLDEN=1)"


@pytest.mark.parametrize("target", [t for t in TARGETS if _available(Variant(t, t, {}))])
def test_every_field_has_a_row(target: str) -> None:
    """Each record an export reads has a row per field in each target's table:
    a new field cannot be dropped silently."""
    found = {table.record: table.missing() for table in tables(target)}  # type: ignore[arg-type]
    assert OciContainer in found
    assert {Network, Volume} <= set(found) or target == "kubernetes"
    assert {record.__name__: m for record, m in found.items() if m} == {}


def test_every_field_case_sets_every_container_field() -> None:
    """The every-field config leaves no container field at its default (so its
    goldens show each row)."""
    from corral.config import load

    config = load(str(CASES["every-field"])).config
    unset = set(OciContainer.model_fields)
    for container in config.containers:
        unset -= container.model_fields_set
    assert unset == set()


SECRET_VALUES = ("hunter2-never-shown", "also-secret", "not-a-real-password")


@pytest.mark.parametrize("variant", [v for v in VARIANTS if _available(v)], ids=lambda v: v.name)
def test_no_secret_value_in_any_export(variant: Variant) -> None:
    """host_environment values and secret files' contents appear in no file and
    no warning of any target; the names do."""
    files = golden_files(CASES["every-field"], variant)
    text = "".join(files.values())
    for value in SECRET_VALUES:
        assert value not in text, (variant.name, value)
    assert "DB_PASSWORD" in text
