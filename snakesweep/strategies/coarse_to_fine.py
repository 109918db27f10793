"""`coarse_to_fine`: a coarse quasi-random stage over the whole space, then the ranges of the
numeric parameters are narrowed around the best region and an inner strategy continues there.

The narrowed box, in unit coordinates (log scale for log ranges), is centred on the best coarse
trial, `shrink` times the original width, and widened to cover the `top_k` best coarse trials.
It depends only on the coarse trials, so every later round narrows the same way; the ranges
are returned in `info["narrowed"]` (the workflow writes them into the rounds files).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snakesweep.errors import ConfigError
from snakesweep.space import Space, parse_space
from snakesweep.strategies._base import Observations, number, positive_int
from snakesweep.strategies.quasirandom import unit_design

NAME = "coarse_to_fine"
OPTIONS: dict[str, Any] = {
    "coarse_trials": 16,
    "shrink": 0.25,
    "top_k": 3,
    "inner": "bayes",
}
INNER = ("random", "sobol", "halton", "lhs", "bayes", "evolution")


def check(options: dict[str, Any], space: Space) -> None:
    positive_int("search.coarse_trials", options["coarse_trials"], 2)
    number("search.shrink", options["shrink"], 0.01, 1.0)
    positive_int("search.top_k", options["top_k"], 1)
    if options["inner"] not in INNER:
        raise ConfigError(
            "search.inner",
            f"{options['inner']!r} cannot be an inner strategy",
            f"use one of {', '.join(INNER)}",
        )


def narrowed_space(space: Space, obs: Observations, options: dict[str, Any]) -> dict[str, Any]:
    """The space mapping with numeric ranges narrowed around the best coarse trials."""
    coarse = min(int(options["coarse_trials"]), len(obs))
    y = obs.y[:coarse]
    order = np.argsort(y, kind="stable")[: int(options["top_k"])]
    U = np.vstack([space.to_unit(obs.params[i]) for i in order])
    half = 0.5 * float(options["shrink"])
    out: dict[str, Any] = {}
    for name, p in space.params.items():
        spec = _spec(p)
        if p.numeric and p.tuned:
            j = space.tuned.index(name)
            lo_u = max(0.0, min(U[0, j] - half, U[:, j].min()))
            hi_u = min(1.0, max(U[0, j] + half, U[:, j].max()))
            if lo_u == 0.0:  # clipped at an edge: keep the full width inside the range
                hi_u = max(hi_u, min(1.0, 2 * half))
            if hi_u == 1.0:
                lo_u = min(lo_u, max(0.0, 1.0 - 2 * half))
            lo, hi = _value(p, lo_u, low=True), _value(p, hi_u, low=False)
            if hi > lo and p.values is not None:
                spec["values"] = [v for v in p.values if lo <= v <= hi]
            elif hi > lo:
                spec["low"], spec["high"] = lo, hi
        out[name] = spec
    return out


def _spec(p) -> Any:
    if p.type == "fixed":
        return {"type": "fixed", "value": p.value, **({"when": _when(p)} if p.when else {})}
    spec: dict[str, Any] = {"type": p.type}
    if p.type == "categorical":
        spec["choices"] = list(p.choices)
    elif p.values is not None:
        spec["values"] = list(p.values)
    else:
        spec.update(low=p.low, high=p.high, log=p.log)
        if p.step is not None:
            spec["step"] = p.step
    if p.when:
        spec["when"] = _when(p)
    if p.default is not None:
        spec["default"] = p.default
    return spec


def _when(p) -> dict[str, list]:
    return {k: list(v) for k, v in p.when.items()}


def _value(p, u: float, low: bool) -> float:
    if p.values is not None:  # the value whose cell holds u
        return p.from_unit(u)
    lo, hi = float(p.low), float(p.high)
    v = float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))) if p.log else lo + u * (hi - lo)
    if p.step is not None:
        k = (v - lo) / p.step
        v = lo + p.step * (np.floor(k + 1e-9) if low else np.ceil(k - 1e-9))
    if p.type == "int":
        v = np.floor(v) if low else np.ceil(v)
        return int(min(max(v, lo), hi))
    return float(min(max(v, lo), hi))


def propose(
    space: Space,
    obs: Observations,
    n: int,
    seed: int,
    options: dict[str, Any],
    info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    from snakesweep.strategies import _REGISTRY  # the inner strategy

    coarse = int(options["coarse_trials"])
    if len(obs) < coarse or not obs.ok[:coarse].any():
        d = len(space.tuned)
        return [space.from_unit(u) for u in unit_design("sobol", d, n, seed, len(obs))]
    mapping = narrowed_space(space, obs, options)
    fine = parse_space(mapping)
    if info is not None:
        info["narrowed"] = {
            k: {"low": fine[k].low, "high": fine[k].high}
            for k, v in mapping.items()
            if isinstance(v, dict) and fine[k].numeric
        }
    # The inner strategy sees the trials inside the narrowed box (points outside would be
    # clipped onto its edges and mislead a model).
    inside = [
        i
        for i, p in enumerate(obs.params)
        if fine.contains(fine.complete(p))
        and all(fine[k].contains(v) for k, v in p.items() if k in fine.params)
    ]
    sub = Observations(
        [obs.params[i] for i in inside], obs.y[inside], obs.raw[inside], obs.failed[inside]
    )
    inner = _REGISTRY[options["inner"]]
    inner_opts = {**inner.options}
    return inner.propose(fine, sub, n, seed, inner_opts)
