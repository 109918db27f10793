"""config/README.md documents every key of the schema, and says what the schema says; every
shipped sweep config passes the checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from snakesweep.config import load_config, load_schema
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


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "config").rglob("*.yaml")),
    ids=lambda path: path.stem,
)
def test_every_shipped_sweep_is_valid(path, tmp_path, monkeypatch):
    """The default sweep and every example in config/sweeps/ pass the full config check
    (schema, space, search, training or table) as a user would run them, from the repo, and
    their budget reaches every part of their search (no start-up note)."""
    from snakesweep.plan import budget_note
    from snakesweep.sweep import sweep_of

    monkeypatch.chdir(REPO)
    config = load_config(yaml.safe_load(path.read_text()), tmp_path)
    assert config["sweep"] == path.stem or path.name == "config.yaml"
    assert budget_note(sweep_of(config, tmp_path)) is None
