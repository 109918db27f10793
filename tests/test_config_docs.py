"""config/README.md documents every key of the schema, and says what the schema says."""

from __future__ import annotations

from pathlib import Path

from snakesweep.config import load_schema
from snakesweep.schema_docs import render, rows

REPO = Path(__file__).resolve().parent.parent


def test_config_readme_is_generated_from_the_current_schema():
    assert (REPO / "config" / "README.md").read_text() == render(), (
        "config/README.md is stale: python -m snakesweep.schema_docs > config/README.md"
    )


def test_every_key_has_a_description():
    schema = load_schema()
    undocumented = [row.split("|")[1] for row in rows(schema, schema) if row.endswith("|  |")]
    assert undocumented == []
