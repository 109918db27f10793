"""`successive_halving`, `hyperband`, `bohb`: multi-fidelity strategies (see snakesweep.fidelity).

A multi-fidelity round is planned by `snakesweep.fidelity.plan_round` (promotions of the previous
rung, or a bracket's new configurations); the functions here are what the common `propose()`
returns for these names: a bracket's new configurations, random (successive halving, Hyperband)
or partly from a Bayesian model of the best results (BOHB-style).
"""

from __future__ import annotations

from typing import Any

from snakesweep.fidelity import BOHB_OPTIONS, OPTIONS
from snakesweep.space import Space
from snakesweep.strategies import bayes
from snakesweep.strategies._base import (
    Observations,
    distinct,
    number,
    random_points,
    rng_for,
)

SH_OPTIONS: dict[str, Any] = dict(OPTIONS)
HYPERBAND_OPTIONS: dict[str, Any] = dict(OPTIONS)
BOHB_ALL_OPTIONS: dict[str, Any] = {**OPTIONS, **BOHB_OPTIONS, **bayes.OPTIONS}


def check(options: dict[str, Any], space: Space) -> None:
    """Option types; the checks that need the whole config run in fidelity.fidelity_of."""
    number("search.eta", options["eta"], 2.0)


def check_bohb(options: dict[str, Any], space: Space) -> None:
    check(options, space)
    number("search.random_fraction", options["random_fraction"], 0.0, 1.0)
    bayes.check(options, space)


def propose_random(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    return random_points(space, n, rng_for(seed, len(obs), 41))


def propose_bohb(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    n_random = int(round(n * float(options["random_fraction"])))
    model = []
    if n - n_random > 0 and len(obs) >= len(space.tuned) + 1:
        model = model_points(space, obs, n - n_random, seed, options)
    return model + random_points(space, n - len(model), rng_for(seed, len(obs), 43))


def model_points(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """The n candidates of highest expected improvement under one surrogate fit.

    A bracket asks for many configurations at once (27 in Hyperband's first bracket); a
    constant-liar batch would refit the surrogate once per point. BOHB samples candidates
    from its model instead; here the `bayes` surrogate (`base_estimator`, `y_transform`)
    scores `candidates` random points and the best distinct ones are taken.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = rng_for(seed, len(obs), 47)
    enc = bayes.Encoder(space)
    y = bayes.transform_y(obs.y, options["y_transform"])
    with threadpool_limits(1):
        model = bayes._Model(
            options["base_estimator"],
            enc.features(enc.snap(obs.unit(space))),
            y,
            int(rng.integers(2**31 - 1)),
        )
        candidates = enc.snap(rng.random((int(options["candidates"]), len(space.tuned))))
        mu, sd = model.predict(enc.features(candidates))
    score = bayes.acquisition("EI", mu, sd, float(np.min(y)), options["xi"], options["kappa"])
    ranked = (space.from_unit(candidates[int(i)]) for i in np.argsort(-score, kind="stable"))
    return distinct(space, ranked, n, set())
