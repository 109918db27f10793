"""`evolution`: a genetic algorithm over the mixed space; each round's batch is a generation.

Parents are picked by tournament among all finished trials (failed ones carry the penalty),
combined by uniform crossover and mutated (Gaussian steps on the unit cube for numeric
parameters, a new random value for categoricals). The first generation is a Sobol design.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snakesweep.space import Space
from snakesweep.strategies._base import Observations, number, positive_int, rng_for
from snakesweep.strategies.quasirandom import unit_design

NAME = "evolution"
OPTIONS: dict[str, Any] = {
    "tournament": 3,
    "crossover_rate": 0.9,
    "mutation_rate": None,  # None: 1 / number of tuned parameters
    "mutation_scale": 0.1,
}


def check(options: dict[str, Any], space: Space) -> None:
    positive_int("search.tournament", options["tournament"], 1)
    number("search.crossover_rate", options["crossover_rate"], 0.0, 1.0)
    if options["mutation_rate"] is not None:
        number("search.mutation_rate", options["mutation_rate"], 0.0, 1.0)
    number("search.mutation_scale", options["mutation_scale"], 0.0, 1.0)


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    d = len(space.tuned)
    if len(obs) < max(n, 2):
        return [space.from_unit(u) for u in unit_design("sobol", d, n, seed, len(obs))]
    rng = rng_for(seed, len(obs), 8)
    U = obs.unit(space)
    y = obs.y
    categorical = np.array([space[name].type == "categorical" for name in space.tuned])
    rate = options["mutation_rate"] if options["mutation_rate"] is not None else 1.0 / d
    k = min(int(options["tournament"]), len(U))

    def pick() -> np.ndarray:
        idx = rng.choice(len(U), size=k, replace=False)
        return U[idx[int(np.argmin(y[idx]))]]

    children = []
    for _ in range(n):
        a, b = pick(), pick()
        if rng.random() < options["crossover_rate"]:
            child = np.where(rng.random(d) < 0.5, a, b)
        else:
            child = a.copy()
        mutate = rng.random(d) < rate
        if not mutate.any():
            mutate[rng.integers(d)] = True
        step = rng.normal(0.0, options["mutation_scale"], d)
        child = np.where(mutate & ~categorical, child + step, child)
        child = np.where(mutate & categorical, rng.random(d), child)
        children.append(space.from_unit(np.clip(child, 0.0, 1.0)))
    return children
