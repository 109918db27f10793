"""Run search strategies on the benchmark problems in synchronous batches; write JSON.

    nice -n 10 .venv/bin/python benchmarks/search/run.py --problems branin hartmann6 \
        --methods bayes optuna-tpe --seeds 10 --out benchmarks/search/results/NAME.json

A method is `optuna-tpe`, `optuna-tpe-univariate`, `optuna-gp`, `optuna-random`, `skopt`
(plain skopt Optimizer rebuilt each round: GP, gp_hedge, cl_min) or a snakesweep strategy
name, optionally with options as `bayes:acq_func=LCB,liar=cl_mean`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import problems  # noqa: E402

from snakesweep.space import parse_space  # noqa: E402
from snakesweep.strategies import propose  # noqa: E402

BATCH = 4


def parse_method(method: str) -> tuple[str, dict]:
    """`name:opt=v,...` - a strategy and its options for propose."""
    name, _, rest = method.partition(":")
    opts: dict = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        try:
            opts[k] = json.loads(v)
        except json.JSONDecodeError:
            opts[k] = v
    return name, opts


def run_snakesweep(problem, name, opts, seed):
    rows, times = [], []
    while len(rows) < problem.budget:
        hist = pd.DataFrame(rows) if rows else None
        n = min(BATCH, problem.budget - len(rows))
        t0 = time.perf_counter()
        batch = propose({"strategy": name, **opts}, problem.space, hist, n, seed)
        times.append(time.perf_counter() - t0)
        for p in batch:
            rows.append({**p, "objective": problem.f(p), "status": "ok"})
    return [r["objective"] for r in rows], times


def run_skopt(problem, seed):
    from skopt import Optimizer
    from skopt.space import Categorical, Integer, Real

    space = parse_space(problem.space)
    dims = []
    for n in space.tuned:
        p = space[n]
        if p.type == "categorical" or p.values is not None:
            dims.append(Categorical(list(p.values or p.choices), name=n))
        elif p.type == "int":
            dims.append(Integer(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
        else:
            dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
    X, y, times = [], [], []
    while len(y) < problem.budget:
        t0 = time.perf_counter()
        opt = Optimizer(
            dims,
            base_estimator="GP",
            acq_func="gp_hedge",
            n_initial_points=max(0, 10 - len(y)) if y else 10,
            initial_point_generator="sobol",
            random_state=seed,
        )
        if y:
            opt.tell(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = opt.ask(n_points=min(BATCH, problem.budget - len(y)), strategy="cl_min")
        times.append(time.perf_counter() - t0)
        for x in batch:
            X.append(x)
            y.append(problem.f(space.complete(dict(zip(space.tuned, x, strict=True)))))
    return y, times


def run_optuna(problem, kind, seed):
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    space = parse_space(problem.space)
    dists = {}
    for n in space.tuned:
        p = space[n]
        if p.type == "categorical" or p.values is not None:  # a list of values: categories
            dists[n] = CategoricalDistribution(list(p.values or p.choices))
        elif p.type == "int":
            dists[n] = IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            dists[n] = FloatDistribution(p.low, p.high, log=p.log)
    sampler = {
        "optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "optuna-tpe-univariate": lambda: optuna.samplers.TPESampler(seed=seed, multivariate=False),
        "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed),
        "optuna-random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }[kind]()
    study = optuna.create_study(sampler=sampler, direction="minimize")
    y, times = [], []
    while len(y) < problem.budget:
        t0 = time.perf_counter()
        trials = [study.ask(dists) for _ in range(min(BATCH, problem.budget - len(y)))]
        times.append(time.perf_counter() - t0)
        for t in trials:
            v = problem.f(space.complete(t.params))
            study.tell(t, v)
            y.append(v)
    return y, times


def run(problem, method, seed):
    name, opts = parse_method(method)
    if name.startswith("optuna-"):
        return run_optuna(problem, name, seed)
    if name == "skopt":
        return run_skopt(problem, seed)
    return run_snakesweep(problem, name, opts, seed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", nargs="+", default=list(problems.SYNTHETIC) + problems.TABLES)
    ap.add_argument("--methods", nargs="+", default=["bayes"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": []}
    done = {(r["problem"], r["method"], r["seed"]) for r in results["runs"]}
    for pname in args.problems:
        problem = problems.get(pname)
        for method in args.methods:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                if (pname, method, seed) in done:
                    continue
                t0 = time.perf_counter()
                y, times = run(problem, method, seed)
                best = np.minimum.accumulate(np.asarray(y, dtype=float))
                regret = [max(0.0, float(b - problem.optimum)) for b in best]
                results["runs"].append(
                    {
                        "problem": pname,
                        "method": method,
                        "seed": seed,
                        "budget": problem.budget,
                        "regret": regret,
                        "propose_s": [round(t, 4) for t in times],
                        "wall_s": round(time.perf_counter() - t0, 2),
                    }
                )
                print(
                    f"{pname:32s} {method:40s} seed {seed:2d} regret "
                    f"{regret[problem.budget // 2 - 1]:.4g} -> {regret[-1]:.4g} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
                out.write_text(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
