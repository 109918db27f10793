from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from snakesweep.errors import ConfigError
from snakesweep.space import parse_space
from snakesweep.strategies import STRATEGIES, check_search, propose

MIXED = {
    "lr": {"type": "float", "low": 1.0e-4, "high": 0.3, "log": True, "grid": 3},
    "hidden_units": {"type": "int", "low": 16, "high": 256, "log": True, "grid": [16, 64, 256]},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.25},
    "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
    "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
    "momentum": {
        "type": "float",
        "low": 0.0,
        "high": 0.99,
        "when": {"optimizer": ["sgd"]},
        "grid": 2,
    },
    "max_epochs": 20,
}


def _toy_objective(p: dict) -> float:
    return (math.log10(p["lr"]) + 2) ** 2 + p["dropout"] + (p["optimizer"] == "sgd") * 0.3


def _history(space, proposals, fail_every=5):
    rows = []
    for i, p in enumerate(proposals):
        failed = i % fail_every == fail_every - 1
        rows.append(
            {
                **p,
                "objective": math.nan if failed else _toy_objective(p),
                "status": "failed" if failed else "ok",
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", STRATEGIES)
def test_contract_valid_distinct_reproducible(name):
    space = parse_space(MIXED)
    history = _history(space, propose("sobol", MIXED, None, 6, seed=11))
    props = propose(name, MIXED, history, 4, seed=3)
    assert len(props) == 4
    keys = {space.key(p) for p in props}
    assert len(keys) == 4, "proposals repeat each other"
    old = {space.key(p) for p in history.to_dict("records")}
    assert not keys & old, "proposals repeat an earlier trial"
    for p in props:
        assert space.contains(p), p
        assert p["max_epochs"] == 20
        assert ("momentum" in p) == (p["optimizer"] == "sgd")
    assert propose(name, MIXED, history, 4, seed=3) == props
    if name != "grid":  # the grid is an enumeration: the seed does not change it
        assert propose(name, MIXED, history, 4, seed=4) != props
    # first round (no history) works for every strategy
    first = propose(name, MIXED, None, 3, seed=0)
    assert len(first) == 3 and all(space.contains(p) for p in first)


@pytest.mark.parametrize("name", STRATEGIES)
def test_maximize_and_all_failed_history(name):
    space = parse_space(MIXED)
    prev = propose("random", MIXED, None, 4, seed=1)
    history = pd.DataFrame([{**p, "objective": math.nan, "status": "failed"} for p in prev])
    props = propose(name, MIXED, history, 2, seed=0, direction="maximize")
    assert len(props) == 2 and all(space.contains(p) for p in props)


def test_grid_covers_full_product():
    space = {
        "a": {"type": "categorical", "choices": ["x", "y", "z"]},
        "b": {"type": "float", "low": 0.0, "high": 1.0, "grid": [0.0, 0.5, 1.0]},
        "c": {"type": "int", "low": 1, "high": 2},
    }
    seen = pd.DataFrame(columns=["a", "b", "c", "objective", "status"])
    got = []
    for _ in range(10):
        batch = propose("grid", space, seen, 4, seed=0)
        if not batch:
            break
        got += batch
        seen = pd.DataFrame([{**p, "objective": 1.0, "status": "ok"} for p in got])
    assert len(got) == 18
    assert {(p["a"], p["b"], p["c"]) for p in got} == {
        (a, b, c) for a in "xyz" for b in (0.0, 0.5, 1.0) for c in (1, 2)
    }


def test_grid_needs_points_for_continuous():
    with pytest.raises(ConfigError) as e:
        check_search("grid", {"lr": {"type": "float", "low": 0.1, "high": 1.0}})
    assert e.value.key == "space.lr.grid"
    check_search(
        {"strategy": "grid", "points": 4}, {"lr": {"type": "float", "low": 0.1, "high": 1.0}}
    )


@pytest.mark.parametrize(
    ("search", "key"),
    [
        ("annealing", "search.strategy"),
        ({"strategy": "bayes", "acq": "EI"}, "search.acq"),
        ({"strategy": "bayes", "base_estimator": "SVM"}, "search.base_estimator"),
        ({"strategy": "random", "liar": "cl_max"}, "search.liar"),
        ({"strategy": "bayes", "failure_penalty": "best"}, "search.failure_penalty"),
    ],
)
def test_bad_search_names_the_key(search, key):
    with pytest.raises(ConfigError) as e:
        check_search(search, MIXED)
    assert e.value.key == key


def test_failed_trials_get_penalty_not_dropped():
    from snakesweep.strategies._base import observations

    space = parse_space(MIXED)
    h = _history(space, propose("random", MIXED, None, 10, seed=0), fail_every=3)
    obs = observations(space, h, "minimize")
    assert len(obs) == 10 and obs.failed.sum() == 3
    assert np.allclose(obs.y[obs.failed], np.nanmax(obs.raw))
    obs2 = observations(space, h, "minimize", penalty=100.0)
    assert np.allclose(obs2.y[obs2.failed], 100.0)
    obs3 = observations(space, h, "maximize", penalty=-5.0)
    assert np.allclose(obs3.y[obs3.failed], 5.0)


def test_bayes_does_not_repeat_initial_design_across_rounds():
    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "y": {"type": "float", "low": 0.0, "high": 1.0},
    }
    s = parse_space(space)
    hist = pd.DataFrame(columns=["x", "y", "objective", "status"])
    keys = set()
    for _ in range(4):
        batch = propose({"strategy": "bayes", "initial_points": 8}, space, hist, 4, seed=0)
        for p in batch:
            assert s.key(p) not in keys
            keys.add(s.key(p))
        new = pd.DataFrame(
            [{**p, "objective": (p["x"] - 0.3) ** 2 + p["y"], "status": "ok"} for p in batch]
        )
        hist = pd.concat([hist, new], ignore_index=True)
    assert len(keys) == 16


def _branin(p):
    x1, x2 = p["x1"], p["x2"]
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


def _run(search, seed, evals=28, batch=4):
    space = {
        "x1": {"type": "float", "low": -5.0, "high": 10.0},
        "x2": {"type": "float", "low": 0.0, "high": 15.0},
    }
    rows = []
    while len(rows) < evals:
        hist = pd.DataFrame(rows) if rows else None
        for p in propose(search, space, hist, batch, seed=seed):
            rows.append({**p, "objective": _branin(p), "status": "ok"})
    return min(r["objective"] for r in rows) - 0.397887


@pytest.mark.slow
def test_bayes_beats_random_on_branin():
    seeds = range(3)
    bayes = np.median([_run("bayes", s) for s in seeds])
    rand = np.median([_run("random", s) for s in seeds])
    assert bayes < 0.5 * rand, (bayes, rand)


def test_schema_matches_strategies_and_defaults():
    import yaml

    from snakesweep.config import SCHEMA_PATH
    from snakesweep.strategies import ALL_OPTIONS, COMMON_OPTIONS

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    props = schema["$defs"]["search"]["properties"]
    assert props["strategy"]["enum"] == list(STRATEGIES)
    for key, default in {**ALL_OPTIONS, **COMMON_OPTIONS}.items():
        assert key in props, key
        assert props[key]["default"] == default, key
    assert set(props) == set(ALL_OPTIONS) | set(COMMON_OPTIONS)
    # Schema defaults of other strategies' options are accepted (config.fill_defaults adds them).
    filled = {k: v["default"] for k, v in props.items()} | {"strategy": "random"}
    check_search(filled, MIXED)
    with pytest.raises(ConfigError) as e:
        check_search({"strategy": "random", "liar": "cl_max"}, MIXED)
    assert e.value.key == "search.liar"
