"""docs/exports.md is generated from the exporters' tables, and kept fresh."""

from __future__ import annotations

from pathlib import Path

from corral.render.export.docs import exports_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_committed_exports_doc_is_fresh() -> None:
    committed = (ROOT / "docs" / "exports.md").read_text()
    assert committed == exports_markdown(), (
        "docs/exports.md is stale: run `python3 -m corral.render.export.docs > docs/exports.md`"
    )


def test_the_doc_has_a_row_per_container_field() -> None:
    from corral.config import OciContainer

    text = exports_markdown()
    for name in OciContainer.model_fields:
        assert f"| `{name}` |" in text, name
