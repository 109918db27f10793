"""`grid`: the full factorial of every parameter's grid values, in a fixed order.

Categorical parameters use their choices; numeric ones their `grid:` (a list of values or a
number of points), else the strategy's `points` option, else all values of a stepped or small
int range. A continuous range without points is a config error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from snakesweep.errors import ConfigError
from snakesweep.space import Param, Space
from snakesweep.strategies._base import Observations, distinct, positive_int

NAME = "grid"
OPTIONS: dict[str, Any] = {"points": None, "shuffle": False}
MAX_ENUMERATED = 64  # an int range with at most this many values is enumerated without points


def param_grid(p: Param, points: int | None, strict: bool = True, prefix: str = "space") -> list:
    """Grid values of one parameter (see the module docstring)."""
    if p.type == "fixed":
        return [p.value]
    if p.type == "categorical":
        return list(p.choices)
    if isinstance(p.grid, tuple):
        return [p.cast(v) for v in p.grid]
    k = p.grid if isinstance(p.grid, int) else points
    if k is None:
        if p.stepped:
            return [p.cast(v) for v in p.steps()]
        if p.type == "int" and p.high - p.low + 1 <= MAX_ENUMERATED:  # type: ignore[operator]
            return list(range(int(p.low), int(p.high) + 1))  # type: ignore[arg-type]
        if strict:
            raise ConfigError(
                f"{prefix}.{p.name}.grid",
                "a grid over a continuous range needs points",
                "give grid: <number of points> or grid: [values] (or search.points)",
            )
        k = 5
    if k == 1:
        return [p.from_unit(0.5)]
    # Points evenly spaced (in log space for log ranges), ends included; deduplicated for ints.
    vals = []
    lo, hi = float(p.low), float(p.high)  # type: ignore[arg-type]
    for t in np.linspace(0.0, 1.0, k):
        if p.log:
            v = float(np.exp(np.log(lo) + t * (np.log(hi) - np.log(lo))))
        else:
            v = lo + t * (hi - lo)
        if p.stepped:
            steps = p.steps()
            v = steps[int(np.argmin(np.abs(steps - v)))]
        v = p.cast(v)
        if v not in vals:
            vals.append(v)
    return vals


def full_grid(space: Space, points: int | None = None, strict: bool = True) -> Iterator[dict]:
    """All configurations of the full factorial, deduplicated after dropping inactive params."""
    names = space.tuned
    axes = [param_grid(space[n], points, strict) for n in names]
    seen = set()
    for combo in itertools.product(*axes):
        p = space.complete(dict(zip(names, combo, strict=True)))
        k = space.key(p)
        if k not in seen:
            seen.add(k)
            yield p


MAX_GRID = 100_000  # configurations a grid may have (it is enumerated every round)


def check(options: dict[str, Any], space: Space) -> None:
    positive_int("search.points", options["points"], allow_none=True)
    size = 1
    for n in space.tuned:
        size *= len(param_grid(space[n], options["points"], strict=True))
    if size > MAX_GRID:
        raise ConfigError(
            "search.points" if options["points"] else "space",
            f"the grid has {size:,} configurations (the product of every parameter's grid), "
            f"more than {MAX_GRID:,}",
            "use fewer grid points (search.points, space.<name>.grid), or a random, sobol or "
            "bayes search",
        )


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    configs = list(full_grid(space, options["points"]))
    if options["shuffle"]:
        np.random.default_rng(seed).shuffle(configs)  # type: ignore[arg-type]
    return distinct(space, configs, n, {space.key(p) for p in obs.params})
