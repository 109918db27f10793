"""Compare a finished sweep with the values it is expected to reproduce (`expect:` block).

Each expected row names the parameter values that pick one trial, a metric, a value and a
tolerance; the result (results/<sweep>/verify.json) lists every row with what was measured.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from snakesweep.errors import ConfigError

if TYPE_CHECKING:  # pandas is imported by the verify job only, not at every snakemake start
    import pandas as pd


def check_expect(config: dict) -> None:
    """Parse-time checks of `expect:` the schema cannot express."""
    expect = config.get("expect")
    if not expect:
        return
    names = set(config["space"])
    for index, row in enumerate(expect["rows"]):
        unknown = sorted(set(row["params"]) - names)
        if unknown:
            raise ConfigError(
                f"expect.rows.{index}.params.{unknown[0]}",
                "not a parameter of the space",
                f"use the names under space: {', '.join(sorted(names))}",
            )
        metric = row.get("metric", expect["metric"])
        if metric != "objective" and "/" not in metric:
            raise ConfigError(
                f"expect.rows.{index}.metric",
                f"{metric!r} is not a metric name",
                "use objective or a stage/metric name such as val/acc",
            )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return str(a) == str(b)


def matching_trials(table: pd.DataFrame, params: dict) -> pd.DataFrame:
    import pandas as pd

    mask = pd.Series(True, index=table.index)
    for name, value in params.items():
        if name not in table.columns:
            return table.iloc[0:0]
        mask &= table[name].map(lambda cell, value=value: _same(cell, value))
    return table[mask]


def compare(table: pd.DataFrame, expect: dict) -> dict:
    """verify.json: every expected row with the measured value and whether it is in tolerance."""
    if not expect:
        return {
            "passed": False,
            "checked": 0,
            "failed": 0,
            "rows": [],
            "source": None,
            "problem": "the config has no expect: block, so there is nothing to verify",
        }
    rows = []
    for index, row in enumerate(expect["rows"]):
        metric = row.get("metric", expect["metric"])
        tolerance = float(row.get("tolerance", expect["tolerance"]))
        found = matching_trials(table, row["params"])
        value_of = found.iloc[0][metric] if len(found) == 1 and metric in found.columns else None
        entry = {
            "row": index,
            "params": row["params"],
            "metric": metric,
            "expected": float(row["value"]),
            "tolerance": tolerance,
            "trial": None,
            "measured": None,
            "difference": None,
            "passed": False,
        }
        if len(found) != 1:
            entry["problem"] = f"{len(found)} trials have these params (expected exactly 1)"
        elif metric not in found.columns:
            entry["problem"] = f"the trials table has no column {metric!r}"
        else:
            trial = found.iloc[0]
            measured = float(value_of) if value_of is not None else float("nan")
            entry.update(trial=trial["trial"], measured=measured)
            if math.isfinite(measured):
                entry["difference"] = measured - entry["expected"]
                entry["passed"] = abs(entry["difference"]) <= tolerance
            else:
                entry["problem"] = f"trial {trial['trial']} has no value ({trial['status']})"
        rows.append(entry)
    return {
        "passed": all(entry["passed"] for entry in rows),
        "source": expect.get("source"),
        "checked": len(rows),
        "failed": sum(not entry["passed"] for entry in rows),
        "rows": rows,
    }


def describe(result: dict, sweep: str) -> str:
    """The human-readable outcome: one line per row that failed, with the difference."""
    if result.get("problem"):
        return f"[snakesweep] verify {sweep}: {result['problem']}"
    if result["passed"]:
        return f"[snakesweep] verify {sweep}: all {result['checked']} expected values reproduced"
    lines = [
        f"[snakesweep] verify {sweep}: {result['failed']} of {result['checked']} expected values "
        f"NOT reproduced (results/{sweep}/verify.json):"
    ]
    for entry in result["rows"]:
        if entry["passed"]:
            continue
        params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
        if entry["measured"] is None or entry["difference"] is None:
            what = entry.get("problem", "no value")
        else:
            what = (
                f"got {entry['measured']:.4g} ({entry['difference']:+.4g}, trial {entry['trial']})"
            )
        lines.append(
            f"  row {entry['row']} [{params}] {entry['metric']}: expected "
            f"{entry['expected']:.4g} ± {entry['tolerance']:g}, {what}"
        )
    return "\n".join(lines)
