"""Reading a config file a user wrote: safe YAML only, and a syntax error names line and column.

Snakemake reads `--configfile` itself before the workflow starts and reports a YAML error only
as "Config file is not valid JSON or YAML"; `python -m snakesweep check FILE` uses this module
to say where the error is. Bundles and published sweeps are read through it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from snakesweep.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (the later one would
    silently win, e.g. a parameter pasted twice with different ranges)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise ConfigError(
                "configfile",
                f"{key_node.start_mark.name} line {line}: key {key!r} is given twice "
                f"(first on line {seen[key]})",
                "keep one of them",
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def refuse_templating(path: Path | str, text: str, evaluated: bool = False) -> None:
    """Raise ConfigError when a config file asks for Snakemake's YTE templating (`__use_yte__`),
    which runs the Python code written in it. `evaluated`: Snakemake has already loaded it."""
    if "__use_yte__" not in text:
        return
    done = "; Snakemake has evaluated it already: check what it did" if evaluated else ""
    raise ConfigError(
        "configfile",
        f"{path} asks for YTE templating (__use_yte__), which runs Python code{done}",
        "write plain YAML values",
    )


def check_config_file(path: Path | str) -> None:
    """Raise ConfigError when a mapping of the YAML file repeats a key, or when it asks for YTE
    templating (syntax errors are left to the caller's YAML reader)."""
    path = Path(path)
    with contextlib.suppress(OSError):
        refuse_templating(path, path.read_text(encoding="utf-8", errors="replace"), True)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, OSError):
        return


def read_config_file(path: Path | str) -> dict:
    """The mapping in a YAML (or JSON) config file, or a ConfigError saying what to fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("configfile", f"{path} does not exist", "check the path")
    refuse_templating(path, path.read_text(encoding="utf-8", errors="replace"))
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(
            "configfile",
            f"{path}{where}: YAML syntax error: {problem}",
            "indent with spaces, close every bracket and quote",
        ) from None
    if not isinstance(content, dict):
        raise ConfigError(
            "configfile",
            f"{path} holds a {type(content).__name__}, not a mapping of keys",
            "start the file with `sweep: NAME` and the other top-level keys",
        )
    return content


def typed_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`snakemake --config` values with the numbers, booleans and nulls of nested mappings
    read as in a config file. Snakemake reads a nested value (`budget={"rounds": 8}`) with
    YAML's BaseLoader, which keeps every scalar as text: `rounds` would be the string '8'."""

    def typed(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: typed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [typed(item) for item in value]
        if isinstance(value, str):
            with contextlib.suppress(yaml.YAMLError):
                scalar = yaml.safe_load(value)
                if scalar is None or isinstance(scalar, bool | int | float):
                    return scalar
        return value

    return {
        key: typed(value) if isinstance(value, Mapping | list) else value
        for key, value in overrides.items()
    }
