"""The reference and the schema are generated from the records, and kept fresh."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner

from corral.cli import app
from corral.config.docs import RECORDS, reference_markdown, schema

ROOT = Path(__file__).resolve().parents[2]


def test_every_field_has_a_doc() -> None:
    missing = [
        f"{record.__name__}.{name}"
        for record in RECORDS
        for name, info in record.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert missing == []


def test_every_record_has_a_doc() -> None:
    assert [r.__name__ for r in RECORDS if not (r.__doc__ or "").strip()] == []


def test_committed_reference_is_fresh() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text()
    assert committed == reference_markdown(), (
        "docs/reference.md is stale: run `corral doc > docs/reference.md`"
    )


def test_doc_command_prints_the_reference() -> None:
    result = CliRunner().invoke(app, ["doc"])
    assert result.exit_code == 0
    assert "| `host_environment` |" in result.output
    assert "## OciContainer" in result.output


def test_schema_accepts_pairs_and_refuses_unknown_keys() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    container = document["$defs"]["OciContainer"]
    assert container["additionalProperties"] is False
    assert {"type": "string"} in container["properties"]["ports"]["items"]["anyOf"]
    assert "container" in document["properties"]
    assert document == schema()


def test_examples_validate_against_the_schema_keys() -> None:
    """Every key used in the bundled examples is one the schema knows."""
    document = schema()
    known = set(document["properties"])
    for example in (ROOT / "examples").glob("*.toml"):
        data = tomllib.loads(example.read_text())
        assert set(data) <= known, example
