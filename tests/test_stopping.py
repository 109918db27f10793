from __future__ import annotations

import math

import pandas as pd
import pytest

from snakesweep.errors import ConfigError
from snakesweep.stopping import stop_reason


def _hist(objs_per_round, status=None):
    rows = []
    for r, objs in enumerate(objs_per_round):
        for o in objs:
            rows.append(
                {"round": r, "objective": o, "status": "ok" if not math.isnan(o) else "failed"}
            )
    return pd.DataFrame(rows)


def test_rounds_and_trials_budget():
    h = _hist([[1.0, 2.0], [0.5, 3.0]])
    assert stop_reason({"rounds": 4}, h, "minimize", 2, 0.0) is None
    assert "rounds" in stop_reason({"rounds": 2}, h, "minimize", 2, 0.0)
    assert "max_trials" in stop_reason({"rounds": 9, "max_trials": 4}, h, "minimize", 2, 0.0)
    assert stop_reason({"rounds": 9, "max_trials": 5}, h, "minimize", 2, 0.0) is None


def test_wall_time():
    assert "max_time_s" in stop_reason({"max_time_s": 60}, None, "minimize", 1, 61.0)
    assert stop_reason({"max_time_s": 60}, None, "minimize", 1, 59.0) is None


def test_target_respects_direction():
    h = _hist([[0.2, 0.95]])
    assert "target" in stop_reason({"target": 0.9}, h, "maximize", 1, 0.0)
    assert stop_reason({"target": 0.1}, h, "minimize", 1, 0.0) is None
    assert "target" in stop_reason({"target": 0.2}, h, "minimize", 1, 0.0)


def test_patience_counts_rounds_without_improvement():
    h = _hist([[1.0, 2.0], [0.5, float("nan")], [0.7, 0.6], [0.9, 0.8]])
    assert "no improvement in the last 2 rounds" in stop_reason(
        {"rounds": 9, "patience": 2}, h, "minimize", 4, 0.0
    )
    assert stop_reason({"rounds": 9, "patience": 3}, h, "minimize", 4, 0.0) is None
    # an improvement smaller than min_improvement does not count
    h2 = _hist([[1.0], [0.99], [0.985]])
    assert stop_reason({"rounds": 9, "patience": 2}, h2, "minimize", 3, 0.0) is None
    assert (
        stop_reason({"rounds": 9, "patience": 2, "min_improvement": 0.05}, h2, "minimize", 3, 0.0)
        is not None
    )


def test_bad_budget():
    with pytest.raises(ConfigError) as e:
        stop_reason({"rounds": 0}, None, "minimize", 0, 0.0)
    assert e.value.key == "budget.rounds"
    with pytest.raises(ConfigError) as e:
        stop_reason({"patiense": 2}, None, "minimize", 0, 0.0)
    assert e.value.key == "budget.patiense"
