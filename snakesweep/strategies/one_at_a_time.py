"""`one_at_a_time`: the baseline, then each parameter over its grid with the others held at
the baseline - the classic "accuracy vs learning rate / hidden units / ..." sensitivity tables.

The baseline is the `baseline:` option, else each parameter's `default:`, else the middle of
its grid (the first choice for a categorical).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snakesweep.errors import ConfigError
from snakesweep.space import Space, _values_hint
from snakesweep.strategies._base import Observations, distinct, positive_int
from snakesweep.strategies.grid import param_grid

NAME = "one_at_a_time"
OPTIONS: dict[str, Any] = {"points": None, "baseline": {}}


def baseline(space: Space, options: dict[str, Any]) -> dict[str, Any]:
    base = dict(options.get("baseline") or {})
    out = {}
    for n in space.tuned:
        p = space[n]
        if n in base:
            out[n] = base[n]
        elif p.default is not None:
            out[n] = p.default
        elif p.type == "categorical":
            out[n] = p.choices[0]
        else:
            g = param_grid(p, options["points"], strict=False)
            out[n] = g[(len(g) - 1) // 2]
    return out


def sequence(space: Space, options: dict[str, Any]) -> list[dict[str, Any]]:
    """The baseline followed by every one-parameter variation, without repeats."""
    base = baseline(space, options)
    configs = [space.complete(base)]
    seen = {space.key(configs[0])}
    for n in space.tuned:
        for v in param_grid(space[n], options["points"]):
            p = space.complete({**base, n: v})
            k = space.key(p)
            if k not in seen:
                seen.add(k)
                configs.append(p)
    return configs


def check(options: dict[str, Any], space: Space) -> None:
    positive_int("search.points", options["points"], allow_none=True)
    base = options.get("baseline") or {}
    if not isinstance(base, Mapping):
        raise ConfigError("search.baseline", "must map parameter names to values")
    for n, v in base.items():
        if n not in space.tuned:
            raise ConfigError(
                f"search.baseline.{n}",
                "not a searched parameter",
                f"use one of {', '.join(space.tuned)}",
            )
        if not space[n].contains(v):
            raise ConfigError(
                f"search.baseline.{n}", f"{v!r} is not a value of {n}", _values_hint(space[n])
            )
    for n in space.tuned:
        param_grid(space[n], options["points"], strict=True)


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    return distinct(space, sequence(space, options), n, {space.key(p) for p in obs.params})
