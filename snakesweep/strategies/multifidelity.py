"""`successive_halving`, `hyperband`, `bohb`: multi-fidelity strategies.

Rungs are rounds; the schedule of brackets and rungs is snakesweep.fidelity's. `plan_round` is
what the workflow calls for these strategies (through snakesweep.strategies.plan_round): rung
i > 0 promotes the best trials of the round before, which resume from their checkpoints; rung 0
asks the strategy's registered `propose` for a bracket's new configurations, random (successive
halving, Hyperband) or partly from a Bayesian model (BOHB) fitted to the results of the highest
fidelity that has enough of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from snakesweep.fidelity import (
    BOHB_OPTIONS,
    OPTIONS,
    Fidelity,
    fidelity_column,
    promote,
    rung_of_round,
)
from snakesweep.space import Space
from snakesweep.strategies import bayes
from snakesweep.strategies._base import (
    Observations,
    dedupe,
    distinct,
    history_params,
    number,
    observations,
    random_points,
    rng_for,
)

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

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
    return random_points(space, n, rng_for(seed, len(obs), 31))


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


def plan_round(
    strategy: Any,
    options: dict[str, Any],
    sweep: Sweep,
    history: pd.DataFrame,
    round_index: int,
    seed: int,
) -> list[dict[str, Any]]:
    """The trials of one multi-fidelity round: promotions of the previous rung, or new configs.

    Each entry has `params`, a `fidelity` record (kind, value, bracket, rung, iteration,
    parent, resume_from) and, for promotions, the parent's `seed`. `strategy` is the registered
    strategy, whose `propose` draws a bracket's new configurations.
    """
    fid = sweep.fidelity
    if fid is None:
        raise ValueError(f"{sweep.search.strategy!r} is not a multi-fidelity strategy")
    direction = sweep.objective.direction
    space = sweep.space
    trials_per_round = sweep.budget["trials_per_round"]
    place = rung_of_round(fid, trials_per_round, round_index)
    record = {
        "kind": fid.kind,
        "value": int(place.fidelity) if fid.kind == "epochs" else place.fidelity,
        "bracket": place.bracket,
        "rung": place.rung,
        "iteration": place.iteration,
    }
    if place.rung > 0:
        previous = history[history["round"] == round_index - 1] if len(history) else history
        chosen = promote(previous, place.size, direction)
        rows = previous.set_index("trial").loc[chosen].reset_index() if chosen else previous[:0]
        return [
            {
                "params": _with_fidelity(params, fid),
                "seed": int(row["seed"]),
                "fidelity": {
                    **record,
                    "parent": row["trial"],
                    "resume_from": row["trial"] if fid.resumable else None,
                },
            }
            for (_, row), params in zip(rows.iterrows(), history_params(space, rows), strict=True)
        ]
    seen = observations(space, history, direction, options["failure_penalty"])
    model = seen
    if fid.strategy == "bohb":
        subset = model_history(history, fid, trials_per_round, len(space.tuned) + 1)
        model = observations(space, subset, direction, options["failure_penalty"])
    raw = strategy.propose(space, model, place.size, seed, options)
    fresh = [space.complete(params) for params in raw]
    fresh = dedupe(space, fresh, seen.params, place.size, rng_for(seed, len(seen), 31))
    return [
        {
            "params": _with_fidelity(params, fid),
            "fidelity": {**record, "parent": None, "resume_from": None},
        }
        for params in fresh
    ]


def _with_fidelity(params: dict[str, Any], fid: Fidelity) -> dict[str, Any]:
    if fid.kind == "epochs":
        # The schedule's horizon: every trial's learning-rate schedule spans the full budget.
        return {**params, "max_epochs": int(fid.high)}
    return dict(params)


def model_history(
    history: pd.DataFrame, fid: Fidelity, trials_per_round: int, needed: int
) -> pd.DataFrame | None:
    """BOHB's training set: the finished trials of the highest fidelity with >= `needed` of them
    (each configuration once: a promoted trial's parent sits at a lower fidelity)."""
    done = history[history["status"].astype(str) == "ok"] if len(history) else history
    if done.empty:
        return None
    level = fidelity_column(done, fid, trials_per_round)
    for value in sorted(level.unique(), reverse=True):
        subset = done[np.isclose(level, value)]
        if len(subset) >= needed:
            return subset
    return None
