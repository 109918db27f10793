"""config/README.md, generated from the config schema so the docs list every key the schema knows.

Regenerate: `python -m snakesweep.schema_docs > config/README.md`; a test fails when it is stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from snakesweep.config import load_schema

HEADER = """# Config reference

A sweep is one YAML file: `config/config.yaml` (the default sweep) or any file given with
`snakemake --configfile FILE` (see `config/sweeps/` for examples). It is validated against
`schemas/config.schema.yaml` before any job starts; an unknown key, a wrong type or an
inconsistent value stops the run with one line naming the key.

Hyperparameters are not set anywhere else: every one is an entry of `space:`, tuned
(`{type: float, low: ..., high: ..., log: true}`, `{type: int, ...}`, an ordered list of
numbers `{type: int, values: [16, 32, 64, 128]}` (searched in order: 32 lies between 16 and
64, unlike a categorical), `{type: categorical, choices: [...]}` (a single value or
choice is the fixed value it names), optionally
`when: {other_param: [values]}`) or fixed (a plain value such as `max_epochs: 20`).

This file is generated from the schema: `python -m snakesweep.schema_docs > config/README.md`.

| key | type | default | description |
|---|---|---|---|
"""


def _resolve(node: dict, schema: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _type(node: dict) -> str:
    if "enum" in node:
        return " | ".join(json.dumps(value) for value in node["enum"])
    kind = node.get("type", "")
    return " | ".join(kind) if isinstance(kind, list) else kind


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def rows(node: dict, schema: dict, prefix: str = "") -> Iterator[str]:
    """One table row per key, depth first, in schema order."""
    node = _resolve(node, schema)
    for name, child in node.get("properties", {}).items():
        child = _resolve(child, schema)
        key = f"{prefix}{name}"
        default = json.dumps(child["default"]) if "default" in child else ""
        yield (
            f"| `{key}` | {_cell(_type(child))} | {_cell(default)} "
            f"| {_cell(child.get('description', ''))} |"
        )
        yield from rows(child, schema, f"{key}.")


def render() -> str:
    schema = load_schema()
    return HEADER + "\n".join(rows(schema, schema)) + "\n"


if __name__ == "__main__":
    print(render(), end="")
