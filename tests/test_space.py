from __future__ import annotations

import numpy as np
import pytest

from snakesweep.errors import ConfigError
from snakesweep.space import parse_space

SPACE = {
    "lr": {"type": "float", "low": 1.0e-4, "high": 0.3, "log": True},
    "hidden_units": {"type": "int", "low": 16, "high": 256, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
    "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
    "optimizer": {"type": "categorical", "choices": ["sgd", "adam", "rmsprop"]},
    "momentum": {
        "type": "float",
        "low": 0.0,
        "high": 0.99,
        "when": {"optimizer": ["sgd", "rmsprop"]},
    },
    "nesterov": {"type": "categorical", "choices": [True, False], "when": {"momentum_on": ["yes"]}},
    "momentum_on": {
        "type": "categorical",
        "choices": ["yes", "no"],
        "when": {"optimizer": ["sgd"]},
    },
    "max_epochs": 20,
    "batch": {"type": "fixed", "value": 64},
}


def test_names_tuned_fixed():
    s = parse_space(SPACE)
    assert s.names == list(SPACE)
    assert "max_epochs" not in s.tuned and "batch" not in s.tuned
    assert s.fixed == {"max_epochs": 20, "batch": 64}


def test_complete_adds_fixed_and_drops_inactive_chain():
    s = parse_space(SPACE)
    p = s.complete(
        {"lr": 0.01, "optimizer": "adam", "momentum": 0.9, "momentum_on": "yes", "nesterov": True}
    )
    assert p["max_epochs"] == 20 and p["batch"] == 64
    assert "momentum" not in p and "momentum_on" not in p and "nesterov" not in p
    q = s.complete({"optimizer": "sgd", "momentum": 0.9, "momentum_on": "yes", "nesterov": True})
    assert q["momentum"] == 0.9 and q["nesterov"] is True
    r = s.complete(
        {"optimizer": "rmsprop", "momentum": 0.9, "momentum_on": "yes", "nesterov": True}
    )
    assert "momentum" in r and "momentum_on" not in r and "nesterov" not in r


def test_unit_round_trip_and_ranges():
    s = parse_space(SPACE)
    rng = np.random.default_rng(0)
    for u in rng.random((300, len(s.tuned))):
        p = s.from_unit(u)
        assert s.contains(p), p
        assert 1.0e-4 <= p["lr"] <= 0.3
        assert isinstance(p["hidden_units"], int) and 16 <= p["hidden_units"] <= 256
        assert p["dropout"] in (0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5) or any(
            abs(p["dropout"] - v) < 1e-12 for v in (0.1, 0.2, 0.3, 0.4, 0.5)
        )
        assert s.complete(s.from_unit(s.to_unit(p))) == p or s.key(
            s.from_unit(s.to_unit(p))
        ) == s.key(p)


def test_int_log_covers_both_ends():
    s = parse_space({"h": {"type": "int", "low": 1, "high": 4, "log": True}})
    vals = {s.from_unit([u])["h"] for u in np.linspace(0, 1, 200)}
    assert vals == {1, 2, 3, 4}


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"lr": {"type": "float", "low": 1.0, "high": 1.0}}, "space.lr.low"),
        ({"lr": {"type": "float", "low": 2.0, "high": 1.0}}, "space.lr.low"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "space.lr.low"),
        ({"lr": {"type": "float", "low": -1.0, "high": 1.0, "log": True}}, "space.lr.low"),
        ({"a": {"type": "categorical", "choices": []}}, "space.a.choices"),
        ({"a": {"type": "categorical"}}, "space.a.choices"),
        ({"a": {"type": "bool"}}, "space.a.type"),
        ({"a": {"low": 0, "high": 1}}, "space.a"),
        ({"a": {"type": "float", "low": 0, "high": 1, "lgo": True}}, "space.a.lgo"),
        ({"a": {"type": "float", "low": 0, "high": 1, "when": {"b": [1]}}}, "space.a.when.b"),
        (
            {
                "o": {"type": "categorical", "choices": ["sgd"]},
                "m": {"type": "float", "low": 0, "high": 1, "when": {"o": ["adam"]}},
            },
            "space.m.when.o",
        ),
        ({"a": {"type": "int", "low": 0.5, "high": 3}}, "space.a.low"),
        ({"a": {"type": "float", "low": "x", "high": 3}}, "space.a.low"),
        ({"a": {"type": "fixed"}}, "space.a.value"),
        ({"objective": {"type": "float", "low": 0, "high": 1}}, "space.objective"),
        ({"a": 3}, "space"),
    ],
)
def test_bad_specs_name_the_key(spec, key):
    with pytest.raises(ConfigError) as e:
        parse_space(spec)
    assert e.value.key == key
    assert key in str(e.value)


def test_when_cycle_rejected():
    spec = {
        "a": {"type": "categorical", "choices": ["x", "y"], "when": {"b": ["x"]}},
        "b": {"type": "categorical", "choices": ["x", "y"], "when": {"a": ["x"]}},
    }
    with pytest.raises(ConfigError, match="cycle"):
        parse_space(spec)


def test_values_are_an_ordered_numeric_parameter():
    s = parse_space({"batch": {"type": "int", "values": [64, 16, 256, 32]}, "lr": 0.1})
    p = s["batch"]
    assert p.values == (16, 32, 64, 256) and (p.low, p.high) == (16, 256)
    seen = [s.from_unit([u])["batch"] for u in np.linspace(0, 1, 41)]
    assert seen == sorted(seen) and set(seen) == {16, 32, 64, 256}  # in order, every value
    assert all(isinstance(v, int) for v in seen)
    for v in (16, 32, 64, 256):
        assert s.from_unit(s.to_unit({"batch": v}))["batch"] == v
    assert p.contains(64) and not p.contains(48) and not p.contains(512)
    assert s.size() == 4


@pytest.mark.parametrize(
    ("spec", "key", "words"),
    [
        ({"type": "int", "values": []}, "space.b.values", "non-empty list"),
        ({"type": "int", "values": "16, 32"}, "space.b.values", "non-empty list"),
        ({"type": "int", "values": [16], "default": 24}, "space.b.default", "24"),
        ({"type": "int", "values": [16, 24.5]}, "space.b.values", "24.5 is not an integer"),
        ({"type": "float", "values": [0.1, "x"]}, "space.b.values", "'x' is not a number"),
        ({"type": "float", "values": [0.1, 0.1]}, "space.b.values", "repeat"),
        ({"type": "int", "values": [16, 32], "high": 64}, "space.b.high", "remove high"),
        ({"type": "int", "values": [16, 32], "log": True}, "space.b.log", "remove log"),
        ({"type": "int", "values": [16, 32], "default": 24}, "space.b.default", "24"),
    ],
)
def test_bad_values_name_the_key(spec, key, words):
    with pytest.raises(ConfigError) as e:
        parse_space({"b": spec})
    assert e.value.key == key
    assert words in str(e.value)


def test_a_single_choice_is_a_fixed_value(tmp_path):
    """`{type: categorical, choices: [relu]}` is `relu`: the validated config holds the fixed
    value, and a round's proposals are those of the sweep that writes it as one; a space of
    single choices only has nothing to search."""
    import yaml

    from snakesweep.config import identity, load_config
    from snakesweep.history import empty_history
    from snakesweep.rounds import make_round
    from snakesweep.sweep import load_sweep

    base = {"sweep": "one", "budget": {"rounds": 2, "trials_per_round": 3}}
    lr = {"type": "float", "low": 1e-3, "high": 0.1, "log": True}
    single = {
        **base,
        "search": {"strategy": "sobol"},
        "space": {
            "lr": lr,
            "activation": {"type": "categorical", "choices": ["relu"]},
            "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
            "momentum": {"type": "categorical", "choices": [0.9], "when": {"optimizer": ["sgd"]}},
        },
    }
    fixed = {
        **single,
        "space": {
            "lr": lr,
            "activation": "relu",
            "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
            "momentum": {"type": "fixed", "value": 0.9, "when": {"optimizer": ["sgd"]}},
        },
    }
    resolved = load_config(single, tmp_path)
    assert resolved["space"] == fixed["space"]
    one, other = load_sweep(single, tmp_path), load_sweep(fixed, tmp_path)
    assert one.space.tuned == ["lr", "optimizer"]
    proposals = make_round(one, empty_history(), 0, 0.0)["trials"]
    assert proposals == make_round(other, empty_history(), 0, 0.0)["trials"]
    assert {p["params"]["activation"] for p in proposals} == {"relu"}
    assert all(
        p["params"].get("momentum") == (0.9 if p["params"]["optimizer"] == "sgd" else None)
        for p in proposals
    )
    # A sweep recorded with the categorical form resumes.
    frozen = tmp_path / "one" / "sweep.yaml"
    frozen.parent.mkdir(parents=True)
    frozen.write_text(yaml.safe_dump(identity({**resolved, "space": single["space"]})))
    load_config(single, tmp_path)
    frozen.write_text(yaml.safe_dump(identity({**resolved, "space": {**fixed["space"], "lr": 1}})))
    with pytest.raises(ConfigError, match="space.lr"):
        load_config(single, tmp_path)
    nothing = {**base, "space": {"activation": {"type": "categorical", "choices": ["relu"]}}}
    with pytest.raises(ConfigError, match="a single one is a fixed value"):
        load_config(nothing, tmp_path)


def test_a_single_value_is_a_fixed_value(tmp_path):
    """`{type: int, values: [64]}` is `64`, as a categorical of one choice is its value: the
    validated config holds the fixed value (a float's as a float), a round's proposals are
    those of the sweep that writes it as one, and a sweep recorded with either form resumes
    with the other."""
    import yaml

    from snakesweep.config import identity, load_config
    from snakesweep.history import empty_history
    from snakesweep.rounds import make_round
    from snakesweep.sweep import load_sweep

    lr = {"type": "float", "low": 1e-3, "high": 0.1, "log": True}
    optimizer = {"type": "categorical", "choices": ["sgd", "adam"]}
    single = {
        "sweep": "one",
        "budget": {"rounds": 2, "trials_per_round": 3},
        "search": {"strategy": "sobol"},
        "space": {
            "lr": lr,
            "optimizer": optimizer,
            "batch_size": {"type": "int", "values": [64]},
            "momentum": {"type": "float", "values": [1], "when": {"optimizer": ["sgd"]}},
        },
    }
    fixed_space = {
        "lr": lr,
        "optimizer": optimizer,
        "batch_size": 64,
        "momentum": {"type": "fixed", "value": 1.0, "when": {"optimizer": ["sgd"]}},
    }
    fixed = {**single, "space": fixed_space}
    resolved = load_config(single, tmp_path)
    assert resolved["space"] == fixed_space
    assert type(resolved["space"]["momentum"]["value"]) is float
    one, other = load_sweep(single, tmp_path), load_sweep(fixed, tmp_path)
    assert one.space.tuned == ["lr", "optimizer"]
    proposals = make_round(one, empty_history(), 0, 0.0)["trials"]
    assert proposals == make_round(other, empty_history(), 0, 0.0)["trials"]
    assert {p["params"]["batch_size"] for p in proposals} == {64}
    frozen = tmp_path / "one" / "sweep.yaml"
    frozen.parent.mkdir(parents=True)
    for recorded, given in ((single, fixed), (fixed, single)):
        frozen.write_text(yaml.safe_dump(identity({**resolved, "space": recorded["space"]})))
        load_config(given, tmp_path)
    frozen.write_text(yaml.safe_dump(identity({**resolved, "space": {**fixed_space, "lr": 1}})))
    with pytest.raises(ConfigError, match="space.lr"):
        load_config(single, tmp_path)
    nothing = {**single, "space": {"batch_size": {"type": "int", "values": [64]}}}
    with pytest.raises(ConfigError, match="a single one is a fixed value"):
        load_config(nothing, tmp_path)
