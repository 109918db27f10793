"""`bayes`: Bayesian optimisation with scikit-optimize, rebuilt from the finished trials.

The first `initial_points` trials come from a quasi-random design continued across rounds
(the sweep seed fixes it). After that an skopt Optimizer is built with no initial design of
its own (a rebuilt Optimizer would otherwise restart its design and re-propose old points),
told every finished trial (failed ones with the penalty) and asked for a batch by constant liar.
Inactive conditional parameters are imputed with a constant so they don't mislead the model.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from snakesweep.space import Space
from snakesweep.strategies._base import Observations, choose, number, positive_int, rng_for
from snakesweep.strategies.quasirandom import unit_design

NAME = "bayes"
ESTIMATORS = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("gp_hedge", "EI", "PI", "LCB")
LIARS = ("cl_min", "cl_mean", "cl_max")
DESIGNS = ("sobol", "halton", "lhs", "random")
OPTIONS: dict[str, Any] = {
    "base_estimator": "GP",
    "acq_func": "gp_hedge",
    "liar": "cl_min",
    "initial_points": None,  # None: max(batch size, number of tuned params + 1)
    "initial_design": "sobol",
    "xi": 0.01,
    "kappa": 1.96,
}


def check(options: dict[str, Any], space: Space) -> None:
    choose("search.base_estimator", options["base_estimator"], ESTIMATORS)
    choose("search.acq_func", options["acq_func"], ACQUISITIONS)
    choose("search.liar", options["liar"], LIARS)
    choose("search.initial_design", options["initial_design"], DESIGNS)
    positive_int("search.initial_points", options["initial_points"], 1, allow_none=True)
    number("search.xi", options["xi"], 0.0)
    number("search.kappa", options["kappa"], 0.0)


def n_initial(options: dict[str, Any], space: Space, n: int) -> int:
    if options["initial_points"] is not None:
        return int(options["initial_points"])
    return max(n, len(space.tuned) + 1)


def initial_design(space: Space, kind: str, n: int, seed: int, skip: int) -> list[dict]:
    d = len(space.tuned)
    if kind == "random":
        u = rng_for(seed, skip, 5).random((n, d))
    else:
        u = unit_design(kind, d, n, seed, skip)
    return [space.from_unit(x) for x in u]


def _dimensions(space: Space) -> list:
    from skopt.space import Categorical, Integer, Real

    dims = []
    for name in space.tuned:
        p = space[name]
        if p.type == "categorical":
            dims.append(Categorical(list(range(len(p.choices))), name=name))
        elif p.step is not None:
            dims.append(Integer(0, len(p.steps()) - 1, name=name))
        elif p.type == "int":
            prior = "log-uniform" if p.log else "uniform"
            dims.append(Integer(int(p.low), int(p.high), prior=prior, name=name))
        else:
            prior = "log-uniform" if p.log else "uniform"
            dims.append(Real(float(p.low), float(p.high), prior=prior, name=name))
    return dims


def _encode(space: Space, params: dict[str, Any]) -> list:
    x = []
    for name in space.tuned:
        p = space[name]
        v = params.get(name) if space.active(params, name) else None
        if v is None:
            v = p.neutral
        if p.type == "categorical":
            x.append(p.index(v))
        elif p.step is not None:
            x.append(int(np.argmin(np.abs(p.steps() - float(v)))))
        elif p.type == "int":
            x.append(int(min(max(int(v), p.low), p.high)))  # type: ignore[type-var]
        else:
            x.append(float(min(max(float(v), p.low), p.high)))  # type: ignore[type-var]
    return x


def _decode(space: Space, x: list) -> dict[str, Any]:
    raw = {}
    for name, v in zip(space.tuned, x, strict=True):
        p = space[name]
        if p.type == "categorical":
            raw[name] = p.choices[int(v)]
        elif p.step is not None:
            raw[name] = p.cast(p.steps()[int(v)])
        else:
            raw[name] = p.cast(v)
    return space.complete(raw)


def propose(
    space: Space, obs: Observations, n: int, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    n0 = n_initial(options, space, n)
    if len(obs) < n0 or len(obs) < 2:
        return initial_design(space, options["initial_design"], n, seed, len(obs))
    from skopt import Optimizer

    opt = Optimizer(
        _dimensions(space),
        base_estimator=options["base_estimator"],
        acq_func=options["acq_func"],
        acq_func_kwargs={"xi": options["xi"], "kappa": options["kappa"]},
        n_initial_points=0,
        random_state=int(rng_for(seed, len(obs), 6).integers(2**31 - 1)),
    )
    X = [_encode(space, p) for p in obs.params]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.tell(X, [float(v) for v in obs.y])
        batch = opt.ask(n_points=n, strategy=options["liar"])
    return [_decode(space, x) for x in batch]
