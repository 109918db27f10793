"""Quasi-random designs: `sobol`, `halton` (one sequence per sweep seed, continued across
rounds) and `lhs` (a Latin hypercube per round)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from snakesweep.space import Space
from snakesweep.strategies._base import Observations, rng_for

OPTIONS: dict[str, Any] = {}


def unit_design(kind: str, d: int, n: int, seed: int, skip: int) -> np.ndarray:
    """n points of a scrambled low-discrepancy design in [0, 1]^d, after `skip` earlier ones.

    Sobol and Halton continue one sequence (fixed by the seed), so the rounds of a sweep
    together stay low-discrepancy and a later round never repeats an earlier one.
    """
    from scipy.stats import qmc  # on first use: the workflow's parse stays light

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sobol warns when n is not a power of two
        if kind == "sobol":
            eng: qmc.QMCEngine = qmc.Sobol(d, scramble=True, seed=rng_for(seed, 0, 2))
        elif kind == "halton":
            eng = qmc.Halton(d, scramble=True, seed=rng_for(seed, 0, 3))
        elif kind == "lhs":
            return qmc.LatinHypercube(d, seed=rng_for(seed, skip, 4)).random(n)
        else:  # pragma: no cover - guarded by the registry
            raise ValueError(kind)
        if skip:
            eng.fast_forward(skip)
        return eng.random(n)


def _make(kind: str):
    def propose(
        space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        u = unit_design(kind, len(space.tuned), n, seed, len(obs))
        return [space.from_unit(x) for x in u]

    return propose


propose_sobol = _make("sobol")
propose_halton = _make("halton")
propose_lhs = _make("lhs")
