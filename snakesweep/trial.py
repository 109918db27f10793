"""Run one trial and always leave a metrics.json behind, whatever happened inside training."""

from __future__ import annotations

import json
import logging
import math
import time
import traceback
from pathlib import Path

log = logging.getLogger(__name__)


def objective_of(metrics: dict, metric: str) -> float:
    if metric not in metrics:
        available = ", ".join(sorted(metrics)) or "none"
        raise KeyError(f"objective metric {metric!r} was not produced (metrics: {available})")
    return float(metrics[metric])


def run_trial(proposal: dict, round_index: int, config: dict, trial_dir: Path) -> dict:
    """Train one proposed trial; write and return its metrics.json record.

    Status is `ok`, `diverged` (NaN/inf loss) or `failed` (any other exception, with the error).
    """
    from snakesweep.train import DivergedError, fit_trial

    trial_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "trial": proposal["trial"],
        "round": round_index,
        "seed": proposal["seed"],
        "params": proposal["params"],
        "status": "ok",
        "error": None,
        "objective": None,
        "metrics": {},
    }
    start = time.perf_counter()
    try:
        metrics = fit_trial(proposal["params"], config, trial_dir, proposal["seed"])
        record["metrics"] = metrics
        objective = objective_of(metrics, config["objective"]["metric"])
        if not math.isfinite(objective):
            raise DivergedError(f"objective is {objective}")
        record["objective"] = objective
    except DivergedError as error:
        record.update(status="diverged", error=str(error))
    except Exception as error:  # a trial's own failure is recorded, never raised
        log.error("trial %s failed:\n%s", proposal["trial"], traceback.format_exc())
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["duration_s"] = round(time.perf_counter() - start, 3)
    history = trial_dir / "history.csv"
    if not history.exists():
        history.write_text("epoch\n")
    (trial_dir / "metrics.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return record
