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


# Strategies that enumerate a fixed sequence: the seed does not change them.
DETERMINISTIC = {"grid", "one_at_a_time", "replay"}


def _search(name: str) -> dict:
    if name == "replay":
        return {"strategy": "replay", "configs": propose("random", MIXED, None, 16, seed=99)}
    if name == "coarse_to_fine":
        return {"strategy": name, "coarse_trials": 4}
    return {"strategy": name}


@pytest.mark.parametrize("name", STRATEGIES)
def test_contract_valid_distinct_reproducible(name):
    space = parse_space(MIXED)
    history = _history(space, propose("sobol", MIXED, None, 6, seed=11))
    search = _search(name)
    props = propose(search, MIXED, history, 4, seed=3)
    assert len(props) == 4
    keys = {space.key(p) for p in props}
    assert len(keys) == 4, "proposals repeat each other"
    old = {space.key(p) for p in history.to_dict("records")}
    assert not keys & old, "proposals repeat an earlier trial"
    for p in props:
        assert space.contains(p), p
        assert p["max_epochs"] == 20
        assert ("momentum" in p) == (p["optimizer"] == "sgd")
    assert propose(search, MIXED, history, 4, seed=3) == props
    if name not in DETERMINISTIC:
        assert propose(search, MIXED, history, 4, seed=4) != props
    # first round (no history) works for every strategy
    first = propose(search, MIXED, None, 3, seed=0)
    assert len(first) == 3 and all(space.contains(p) for p in first)


@pytest.mark.parametrize("name", STRATEGIES)
def test_maximize_and_all_failed_history(name):
    space = parse_space(MIXED)
    prev = propose("random", MIXED, None, 4, seed=1)
    history = pd.DataFrame([{**p, "objective": math.nan, "status": "failed"} for p in prev])
    props = propose(_search(name), MIXED, history, 2, seed=0, direction="maximize")
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
    filled = {k: v["default"] for k, v in props.items()} | {"strategy": "grid"}
    check_search(filled, MIXED)
    with pytest.raises(ConfigError) as e:
        check_search({"strategy": "random", "liar": "cl_max"}, MIXED)
    assert e.value.key == "search.liar"


def test_replay_returns_exactly_its_list(tmp_path):
    space = {
        "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        "act": {"type": "categorical", "choices": ["relu", "tanh"]},
        "epochs": 3,
    }
    configs = [{"lr": 0.01, "act": "relu"}, {"lr": 0.1, "act": "tanh"}, {"lr": 0.01, "act": "relu"}]
    got = propose({"strategy": "replay", "configs": configs}, space, None, 2, seed=0)
    assert got == [
        {"lr": 0.01, "act": "relu", "epochs": 3},
        {"lr": 0.1, "act": "tanh", "epochs": 3},
    ]
    hist = pd.DataFrame([{**g, "objective": 1.0, "status": "ok"} for g in got])
    rest = propose({"strategy": "replay", "configs": configs}, space, hist, 2, seed=0)
    assert rest == [{"lr": 0.01, "act": "relu", "epochs": 3}]  # the list's own repeat is kept
    # The same list from an earlier sweep's trials.csv (extra columns ignored) and from YAML.
    csv = tmp_path / "trials.csv"
    pd.DataFrame([{**c, "trial": f"t{i}", "objective": 0.5} for i, c in enumerate(configs)]).to_csv(
        csv, index=False
    )
    assert propose({"strategy": "replay", "file": str(csv)}, space, None, 5, 0) == got + rest
    yml = tmp_path / "list.yaml"
    import yaml

    yml.write_text(yaml.safe_dump(configs))
    assert propose({"strategy": "replay", "file": str(yml)}, space, None, 5, 0) == got + rest
    with pytest.raises(ConfigError) as e:
        check_search({"strategy": "replay", "configs": [{"lr": 5.0, "act": "relu"}]}, space)
    assert e.value.key == "search.configs[0].lr"
    with pytest.raises(ConfigError) as e:
        check_search({"strategy": "replay", "file": str(tmp_path / "nope.csv")}, space)
    assert e.value.key == "search.file"


def test_one_at_a_time_varies_one_parameter_from_the_baseline():
    space = {
        "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True, "grid": 3},
        "act": {"type": "categorical", "choices": ["relu", "tanh", "sigmoid"]},
        "units": {"type": "int", "low": 8, "high": 32, "grid": [8, 16, 32], "default": 16},
    }
    got = propose("one_at_a_time", space, None, 20, seed=0)
    base = got[0]
    assert base == {"lr": pytest.approx(0.01), "act": "relu", "units": 16}
    assert len(got) == 1 + 2 + 2 + 2
    for p in got[1:]:
        assert sum(p[k] != base[k] for k in base) == 1


def test_evolution_improves_over_its_first_generation():
    space = {f"x{i}": {"type": "float", "low": -1.0, "high": 1.0} for i in range(3)}

    def f(p):
        return sum(v * v for v in p.values())

    rows = []
    for _ in range(10):
        for p in propose("evolution", space, pd.DataFrame(rows) if rows else None, 6, seed=2):
            rows.append({**p, "objective": f(p), "status": "ok"})
    first = min(r["objective"] for r in rows[:6])
    last = min(r["objective"] for r in rows[-12:])
    assert last < 0.3 * first


def test_coarse_to_fine_narrows_around_the_best():
    space = {
        "x": {"type": "float", "low": 0.0, "high": 10.0},
        "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
        "act": {"type": "categorical", "choices": ["a", "b"]},
    }
    search = {
        "strategy": "coarse_to_fine",
        "coarse_trials": 12,
        "inner": "random",
        "shrink": 0.2,
        "top_k": 1,
    }

    def f(p):
        return (p["x"] - 7.0) ** 2 + (math.log10(p["lr"]) + 3) ** 2

    rows = []
    info: dict = {}
    for _ in range(5):
        info = {}
        for p in propose(search, space, pd.DataFrame(rows) if rows else None, 4, 0, info=info):
            rows.append({**p, "objective": f(p), "status": "ok"})
    best = min(rows[:12], key=lambda r: r["objective"])
    narrowed = info["narrowed"]
    assert narrowed["x"]["high"] - narrowed["x"]["low"] == pytest.approx(2.0, abs=1e-6)
    assert narrowed["x"]["low"] <= best["x"] <= narrowed["x"]["high"]
    assert math.log10(narrowed["lr"]["high"] / narrowed["lr"]["low"]) == pytest.approx(1.0)
    for r in rows[12:]:
        assert narrowed["x"]["low"] <= r["x"] <= narrowed["x"]["high"]
        assert narrowed["lr"]["low"] <= r["lr"] <= narrowed["lr"]["high"]


def test_warm_start_seeds_the_optimiser(tmp_path):
    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "y": {"type": "float", "low": 0.0, "high": 1.0},
    }
    old = propose("sobol", space, None, 12, seed=5)
    table = pd.DataFrame(
        [
            {
                **p,
                "objective": (p["x"] - 0.2) ** 2 + (p["y"] - 0.8) ** 2,
                "status": "ok",
                "trial": f"r000-t{i:03d}",
            }
            for i, p in enumerate(old)
        ]
    )
    table.loc[len(table)] = {"x": 3.0, "y": 0.5, "objective": 0.0, "status": "ok", "trial": "x"}
    path = tmp_path / "trials.csv"
    table.to_csv(path, index=False)
    s = parse_space(space)
    got = propose({"strategy": "bayes", "warm_start": [str(path)]}, space, None, 4, seed=0)
    cold = propose({"strategy": "bayes"}, space, None, 4, seed=0)
    assert got != cold  # with 12 earlier trials the model is used from the first round
    assert not {s.key(p) for p in got} & {s.key(p) for p in old}
    assert np.mean([(p["x"] - 0.2) ** 2 + (p["y"] - 0.8) ** 2 for p in got]) < 0.1
    with pytest.raises(ConfigError) as e:
        check_search({"strategy": "bayes", "warm_start": [str(tmp_path / "x.csv")]}, space)
    assert e.value.key == "search.warm_start[0]"


@pytest.mark.parametrize(
    "options",
    [
        {"base_estimator": "RF"},
        {"base_estimator": "ET", "acq_func": "PI"},
        {"base_estimator": "GBRT", "acq_func": "LCB"},
        {"acq_func": "gp_hedge", "liar": "cl_max"},
        {"liar": "cl_mean", "initial_design": "lhs", "y_transform": "rank"},
    ],
)
def test_bayes_options_give_valid_distinct_proposals(options):
    space = parse_space(MIXED)
    history = _history(space, propose("sobol", MIXED, None, 10, seed=1))
    props = propose({"strategy": "bayes", **options}, MIXED, history, 3, seed=0)
    assert len({space.key(p) for p in props}) == 3
    assert all(space.contains(p) for p in props)


def test_objective_transforms_keep_the_order():
    from snakesweep.strategies.bayes import transform_y

    y = np.array([0.4, 300.0, 1.0, 0.41, 50.0, 2.0, 0.9])
    for kind in ("auto", "log", "rank", "none"):
        t = transform_y(y, kind)
        assert list(np.argsort(t)) == list(np.argsort(y)), kind
    # a heavy tail is compressed by auto
    t = transform_y(y, "auto")
    assert (t.max() - np.median(t)) / np.ptp(t) < (y.max() - np.median(y)) / np.ptp(y)


def test_auto_transform_follows_the_gp_likelihood():
    from snakesweep.strategies.bayes import _gp_auto

    rng = np.random.default_rng(0)
    X = rng.random((30, 2))
    q = ((X - 0.3) ** 2).sum(axis=1)
    # a smooth bowl is modelled best as it is; exp of the bowl (huge range) after a log
    assert _gp_auto(X, q, 0)[2] == "none"
    z, _, kind = _gp_auto(X, np.exp(12 * q), 0)
    assert kind.startswith("log")
    assert list(np.argsort(z)) == list(np.argsort(q))


def test_gp_prior_gradient_matches_finite_differences():
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    from snakesweep.strategies.bayes import _log_prior

    kernel = ConstantKernel(1.0) * Matern(length_scale=np.ones(3), nu=2.5) + WhiteKernel(1e-3)
    theta = np.log([0.7, 0.05, 1.3, 4.0, 0.02])
    value, grad = _log_prior(kernel, theta)
    h = 1e-6
    numeric = [(_log_prior(kernel, theta + h * e)[0] - value) / h for e in np.eye(len(theta))]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_gp_prior_keeps_a_few_trials_from_a_rough_model():
    from snakesweep.strategies.bayes import _Model

    # 6 trials in 6 dimensions: maximum likelihood alone can explain them with tiny length
    # scales (every trial its own spike); the priors keep the fitted scales near the cube
    rng = np.random.default_rng(3)
    X = rng.random((6, 6))
    kernel = _Model("GP", X, rng.normal(size=6), 0).m.kernel_
    ls = np.atleast_1d(kernel.k1.k2.length_scale)  # constant * Matern(ARD) + white noise
    assert len(ls) == 6 and np.all(ls > 0.2), ls


def test_trust_region_shrinks_without_improvement_and_grows_with_it():
    from snakesweep.strategies.bayes import trust_length

    flat = np.array([1.0] * 8 + [2.0] * 16)  # 4 batches of 4 with no improvement
    assert trust_length(flat, 8, 4, 10) == pytest.approx(0.4)
    better = np.concatenate([[1.0] * 8, np.repeat([0.9, 0.8, 0.7, 0.6], 4)])
    assert trust_length(better, 8, 4, 10) == pytest.approx(1.6)


@pytest.mark.parametrize("name", STRATEGIES)
def test_values_parameters_get_only_their_values(name):
    space = {
        "batch": {"type": "int", "values": [16, 32, 64, 128]},
        "decay": {"type": "float", "values": [0.0, 1e-4, 1e-3, 1e-2]},
        "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True, "grid": 2},
    }
    search = {"strategy": name}
    if name == "replay":
        search["configs"] = propose("random", space, None, 8, seed=5)
    elif name == "coarse_to_fine":
        search["coarse_trials"] = 4
    rows = []
    for _ in range(3):
        hist = pd.DataFrame(rows) if rows else None
        for p in propose(search, space, hist, 4, seed=1):
            assert p["batch"] in (16, 32, 64, 128) and isinstance(p["batch"], int)
            assert p["decay"] in (0.0, 1e-4, 1e-3, 1e-2)
            rows.append({**p, "objective": abs(p["batch"] - 32) + p["decay"], "status": "ok"})


def test_coarse_to_fine_narrows_a_values_parameter_to_the_values_around_the_best():
    space = {"width": {"type": "int", "values": [8, 16, 32, 64, 128, 256, 512, 1024]}}
    search = {"strategy": "coarse_to_fine", "coarse_trials": 8, "inner": "random", "top_k": 1}
    rows = [
        {"width": w, "objective": abs(w - 64), "status": "ok"} for w in space["width"]["values"]
    ]
    info: dict = {}
    props = propose(search, space, pd.DataFrame(rows), 4, 0, info=info)
    assert info["narrowed"]["width"] == {"low": 32, "high": 128}
    assert {p["width"] for p in props} <= {32, 64, 128}


def test_a_grid_too_large_to_enumerate_is_refused_at_once():
    space = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)}
    with pytest.raises(ConfigError) as e:
        check_search({"strategy": "grid", "points": 60}, space)
    assert e.value.key == "search.points" and "12,960,000 configurations" in str(e.value)
    check_search({"strategy": "grid", "points": 10}, space)  # 10,000: fine


def test_bayes_batch_starts_with_the_models_best_guess():
    # The first point of a batch of 4 minimises the GP's mean (its best guess); the others,
    # and a batch of 1, maximise expected improvement, which explores.
    from snakesweep.strategies.bayes import Encoder, _Model

    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "y": {"type": "float", "low": 0.0, "high": 1.0},
    }

    def f(p):
        return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2 + 0.1 * math.sin(12 * p["x"])

    s = parse_space(space)
    enc = Encoder(s)
    grid = np.array(np.meshgrid(*[np.linspace(0, 1, 201)] * 2)).reshape(2, -1).T
    options = {"strategy": "bayes", "initial_points": 5, "y_transform": "none"}
    gaps = []
    for seed in range(4):
        trials = propose("random", space, None, 20, seed=seed)
        hist = pd.DataFrame([{**p, "objective": f(p), "status": "ok"} for p in trials])
        model = _Model(
            "GP",
            enc.features(np.vstack([s.to_unit(p) for p in trials])),
            hist["objective"].to_numpy(),
            seed,
        )
        best = model.predict(grid)[0].min()

        def mean(p, model=model):
            return float(model.predict(enc.features(s.to_unit(p)[None, :]))[0][0])

        batch = propose(options, space, hist, 4, seed=seed)
        single = propose(options, space, hist, 1, seed=seed)[0]
        assert mean(batch[0]) <= best + 1e-3, seed
        assert min(mean(p) for p in batch[1:]) > mean(batch[0]), seed
        gaps.append(mean(single) - mean(batch[0]))
    assert max(gaps) > 0.01, gaps  # expected improvement alone goes elsewhere


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"grid", "one_at_a_time"}))
def test_grid_points_of_a_strategy_that_ignores_them_are_refused(name, tmp_path):
    """`space.<name>.grid` is read by grid and one_at_a_time only; under another strategy it
    is refused naming the key, as a search option of another strategy is."""
    from snakesweep.config import load_config

    space = {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True, "grid": 3}}
    with pytest.raises(ConfigError) as e:
        check_search(
            {**_search(name), "configs": [{"lr": 0.01}]} if name == "replay" else _search(name),
            {**space, "max_epochs": 9},
        )
    assert e.value.key == "space.lr.grid" and "grid and one_at_a_time" in str(e.value)
    config = {"sweep": "g", "search": {"strategy": "sobol"}, "space": space}
    with pytest.raises(ConfigError, match="space.lr.grid: .*strategy 'sobol' ignores them"):
        load_config(config, tmp_path)
    load_config({**config, "search": {"strategy": "grid"}}, tmp_path)
