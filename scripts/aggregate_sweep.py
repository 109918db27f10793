"""Write the sweep's final table (trials.csv) and its best configuration (best.yaml)."""

import logging
import sys

from snakesweep.script_job import parse
from snakesweep.worker import run_job


def best_summary(table, sweep) -> dict:
    """best.yaml: the best trial's params and metrics (of a snakesweep.sweep.Sweep), or why there
    is none."""
    import pandas as pd

    from snakesweep.history import best_trial
    from snakesweep.rounds import plain

    best = best_trial(table, sweep.objective.direction)
    counts = table["status"].value_counts().to_dict() if not table.empty else {}
    summary = {
        "sweep": sweep.name,
        "objective": sweep.objective.metric,
        "direction": sweep.objective.direction,
        "trials": {status: int(count) for status, count in counts.items()},
    }
    if best is None:
        return summary | {"best": None}
    params = [name for name in sweep.space.params if name in best.index and pd.notna(best[name])]
    metrics = [name for name in best.index if "/" in name and pd.notna(best[name])]
    return summary | {
        "best": {
            "trial": best["trial"],
            "round": int(best["round"]),
            "objective": float(best["objective"]),
            "params": {name: plain(best[name]) for name in params},
            "metrics": {name: plain(best[name]) for name in metrics},
        }
    }


def main(smk) -> None:
    # Heavy imports here, not above: a job handed to the warm worker never pays for them.
    from snakesweep.history import history_after_round, write_history
    from snakesweep.outputs import write_yaml
    from snakesweep.sweep import sweep_of

    logging.basicConfig(filename=smk.log[0], level=logging.INFO)
    table = history_after_round(smk.input.get("history"), smk.input.last_round)
    write_history(table, smk.output.table)
    summary = best_summary(table, sweep_of(smk.config))
    write_yaml(smk.output.best, summary)


if __name__ == "__main__":
    run_job(main, parse(sys.argv[1:]))
