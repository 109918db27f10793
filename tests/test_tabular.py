"""The tabular task: metrics looked up in published tables of real NN training runs."""

from __future__ import annotations

import json

import pytest
from conftest import sweep_for

from snakesweep.errors import ConfigError
from snakesweep.space import parse_space
from snakesweep.strategies import propose
from snakesweep.tabular import METRIC_NAMES, check_tabular, load_table, run_tabular_trial


def test_table_space_snaps_to_cells_and_reports_means(tmp_path):
    table = load_table("hpobench/car")
    space = table.space()
    assert space["learning_rate_init"]["log"] is True and space["depth"] == {
        "type": "int",
        "low": 1,
        "high": 3,
    }
    p = {"alpha": 1e-8, "batch_size": 4, "depth": 1, "learning_rate_init": 1e-5, "width": 16}
    exact = table.lookup(p)
    near = table.lookup({**p, "alpha": 1.3e-8, "batch_size": 4, "width": 17})
    assert near == exact
    raw = table._raw["00000"]["val_acc"]
    assert exact["val/acc"] == pytest.approx(sum(raw) / len(raw))
    assert exact["val/error"] == pytest.approx(1 - exact["val/acc"])
    config = {
        "tabular": {"table": "hpobench/car"},
        "space": space,
        "objective": {"metric": "val/error", "direction": "minimize"},
    }
    check_tabular(config)
    params = propose("random", space, None, 1, seed=0)[0]
    metrics = run_tabular_trial(
        params, sweep_for({**config, "task": "tabular"}), tmp_path / "t", seed=0
    )
    assert metrics["epochs"] == 1 and 0.0 <= metrics["val/error"] <= 1.0
    assert (tmp_path / "t" / "history.csv").read_text().startswith("epoch,")
    assert json.loads((tmp_path / "t" / "tabular.json").read_text())["table"] == "hpobench/car"
    parse_space(space)


def test_table_space_as_values_proposes_only_cells_of_the_table():
    table = load_table("hpobench/vehicle")
    space = table.space(values=True)
    assert space["batch_size"] == {"type": "int", "values": table.axes["batch_size"]}
    objective = {"metric": "val/error", "direction": "minimize"}
    check_tabular(
        {"tabular": {"table": "hpobench/vehicle"}, "space": space, "objective": objective}
    )
    cells = set()
    for p in propose("bayes", space, None, 8, seed=0):
        assert all(p[name] in axis for name, axis in table.axes.items())
        cells.add(table.cell(p))
    assert len(cells) == 8


def test_tabular_config_errors():
    space = load_table("hpobench/car").space()
    with pytest.raises(ConfigError) as e:
        check_tabular({"tabular": {"table": "hpobench/nope"}, "space": space})
    assert e.value.key == "tabular.table"
    with pytest.raises(ConfigError) as e:
        check_tabular({"tabular": {"table": "hpobench/car"}, "space": {**space, "extra": 1}})
    assert e.value.key == "space.extra"
    with pytest.raises(ConfigError) as e:
        check_tabular(
            {
                "tabular": {"table": "hpobench/car"},
                "space": space,
                "objective": {"metric": "val/loss"},
            }
        )
    assert e.value.key == "objective.metric"


CAR, NAVAL = "hpobench/car", "hpolib/naval_propulsion"


@pytest.mark.parametrize(
    ("table", "name", "spec", "key", "shown"),
    [
        (CAR, "depth", {"type": "int", "low": 1, "high": 5}, "space.depth.high", "1 to 3"),
        (CAR, "alpha", {"type": "float", "low": 1e-9, "high": 1.0}, "space.alpha.low", "1e-08"),
        (CAR, "depth", {"type": "categorical", "choices": [1, 7]}, "space.depth", "1 to 3"),
        (CAR, "depth", 7, "space.depth", "1 to 3"),
        (CAR, "depth", "deep", "space.depth", "1 to 3"),
        (NAVAL, "activation_fn_1", {"type": "categorical", "choices": ["relu", "gelu"]},
         "space.activation_fn_1", "relu, tanh"),
        (NAVAL, "lr_schedule", "linear", "space.lr_schedule", "cosine, const"),
    ],
)  # fmt: skip
def test_a_space_reaching_past_the_table_is_refused_naming_the_key(table, name, spec, key, shown):
    """A value beyond the table is not snapped to its edge cell (that cell's metrics would be
    recorded for a value never trained), and a text choice it lacks fails before any trial."""
    metric = METRIC_NAMES[load_table(table).main_metric]
    config = {"tabular": {"table": table}, "objective": {"metric": metric}}
    space = load_table(table).space()
    with pytest.raises(ConfigError) as e:
        check_tabular({**config, "space": {**space, name: spec}})
    assert e.value.key == key and shown in str(e.value)
    check_tabular({**config, "space": space})  # the table's own space is fine


def test_schema_lists_every_table():
    from snakesweep.config import load_schema
    from snakesweep.tabular import table_names

    enum = load_schema()["$defs"]["tabular"]["properties"]["table"]["enum"]
    assert enum == table_names()
