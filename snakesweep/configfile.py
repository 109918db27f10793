"""Reading a config file a user wrote: safe YAML only, and a syntax error names line and column.

Snakemake reads `--configfile` itself before the workflow starts and reports a YAML error only
as "Config file is not valid JSON or YAML"; `python -m snakesweep check FILE` uses this module
to say where the error is. Bundles and published sweeps are read through it too.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from snakesweep.errors import ConfigError


def read_config_file(path: Path | str) -> dict:
    """The mapping in a YAML (or JSON) config file, or a ConfigError saying what to fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("configfile", f"{path} does not exist", "check the path")
    text = path.read_text(encoding="utf-8", errors="replace")
    if "__use_yte__" in text:
        raise ConfigError(
            "configfile",
            f"{path} asks for YTE templating (__use_yte__), which runs Python code",
            "write plain YAML values",
        )
    try:
        content = yaml.safe_load(text)
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
