"""`replay`: a fixed list of configurations, in order - to reproduce a published sweep.

The list comes from `configs:` (inline) or `file:` (a CSV with one column per parameter, e.g.
an earlier sweep's trials.csv - other columns are ignored, an empty cell is an inactive
parameter - or a YAML list of mappings). Round r gets the next trials_per_round entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snakesweep.errors import ConfigError
from snakesweep.space import Space, _isnan, _values_hint
from snakesweep.strategies._base import Observations, read_table

NAME = "replay"
OPTIONS: dict[str, Any] = {"file": None, "configs": None}


def load_configs(options: dict[str, Any], space: Space) -> list[dict[str, Any]]:
    """The configurations to replay, validated against the space (ConfigError otherwise)."""
    if (options["file"] is None) == (options["configs"] is None):
        raise ConfigError(
            "search.file",
            "replay needs exactly one of `file:` or `configs:`",
            "give a CSV/YAML file or an inline list of configurations",
        )
    key = "search.configs"
    if options["file"] is not None:
        key = "search.file"
        path = Path(str(options["file"]))
        if not path.is_file():
            raise ConfigError(
                key,
                f"no such file: {path}",
                "give a path relative to the directory snakemake runs in",
            )
        if path.suffix.lower() == ".csv":
            table = read_table(path, key)
            missing = [n for n in space.tuned if n not in table.columns]
            if missing:
                raise ConfigError(
                    key, f"{path} has no column {missing[0]!r}", "one column per searched parameter"
                )
            raw = table[[n for n in space.names if n in table.columns]].to_dict("records")
        else:
            import yaml

            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as error:
                raise ConfigError(
                    key,
                    f"{path} is neither a CSV table nor a YAML list ({str(error).splitlines()[0]})",
                    "name a .csv file, or a YAML list of parameter mappings",
                ) from None
    else:
        raw = options["configs"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(key, "must be a non-empty list of configurations")
    out = []
    for i, row in enumerate(raw):
        if not isinstance(row, dict):
            raise ConfigError(f"{key}[{i}]", "must be a mapping of parameter name to value")
        clean = {}
        for name, v in row.items():
            if name not in space.params:
                raise ConfigError(
                    f"{key}[{i}].{name}",
                    "not a parameter of the space",
                    f"parameters: {', '.join(space.names)}",
                )
            if v is None or _isnan(v) or (isinstance(v, str) and v == ""):
                continue
            p = space[name]
            if not p.contains(v):
                raise ConfigError(
                    f"{key}[{i}].{name}", f"{v!r} is not a value of {name}", _values_hint(p)
                )
            clean[name] = p.normalise(v)
        conf = space.complete(clean)
        for name in space.tuned:
            if space.active(conf, name) and name not in conf:
                raise ConfigError(f"{key}[{i}].{name}", "missing a value for this parameter")
        out.append(conf)
    return out


def check(options: dict[str, Any], space: Space) -> None:
    load_configs(options, space)


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    configs = load_configs(options, space)
    start = len(obs) - obs.n_warm
    return configs[start : start + n]
