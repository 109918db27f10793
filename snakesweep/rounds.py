"""One round's proposals: a pure function of (sweep, finished trials, round index)."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from snakesweep.paths import trial_id
from snakesweep.seeds import derive_seed

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep


def plain(value: object) -> object:
    """A JSON/YAML-friendly Python value (numpy scalars become int/float/str/bool)."""
    if isinstance(value, bool | str) or value is None:
        return value
    if hasattr(value, "item"):
        return plain(value.item())
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def make_round(
    sweep: Sweep,
    history: pd.DataFrame,
    round_index: int,
    elapsed_s: float,
    curves: pd.DataFrame | None = None,
) -> dict:
    """The content of rounds/NNN.json: the trials to run this round, or why the sweep stopped.

    Multi-fidelity strategies plan rungs (strategies.multifidelity): their trials carry a `fidelity`
    record, and a promoted trial its parent's seed and `resume_from`. With pruning on, each
    trial carries the `prune` thresholds computed from the earlier trials' `curves`.
    """
    from snakesweep.pruning import prune_spec
    from snakesweep.stopping import stop_reason
    from snakesweep.strategies import plan_round

    direction = sweep.objective.direction
    seed = derive_seed(sweep.seed, "round", round_index)
    stopped = stop_reason(sweep.budget, history, direction, round_index, elapsed_s)
    entries: list[dict] = []
    info: dict = {}  # what the strategy reports, e.g. coarse_to_fine's narrowed ranges
    if stopped is None:
        entries = plan_round(sweep, history, round_index, seed, info)
        # A rung with nothing to promote is empty; the schedule goes on.
        if not entries and sweep.fidelity is None:
            stopped = (
                f"search exhausted: strategy {sweep.search.strategy} has no new "
                "configurations (the whole grid or list has run)"
            )
    prune = prune_spec(curves, sweep.pruning)
    trials = []
    for index, entry in enumerate(entries):
        trial = trial_id(round_index, index)
        proposal = {
            "trial": trial,
            "seed": entry.get("seed", derive_seed(sweep.seed, trial)),
            "params": {name: plain(value) for name, value in entry["params"].items()},
        }
        if "fidelity" in entry:
            proposal["fidelity"] = {key: plain(value) for key, value in entry["fidelity"].items()}
        if prune is not None:
            proposal["prune"] = prune
        trials.append(proposal)
    return {
        "round": round_index,
        "strategy": sweep.search.strategy,
        "seed": seed,
        "stopped": stopped,
        "trials": trials,
        **({"search_info": {k: plain_tree(v) for k, v in info.items()}} if info else {}),
    }


def stopped_line(sweep: Sweep, content: dict) -> str | None:
    """The console line of the round at which the sweep stopped (`content`: its rounds file),
    once: None for a round that runs, and for the empty rounds after the first stopped one."""
    from snakesweep.outputs import read_json

    index = content["round"]
    if not content["stopped"]:
        return None
    if index > 0 and read_json(sweep.paths.rounds(index - 1)).get("stopped"):
        return None
    when = f"after {index} round{'s' * (index != 1)}" if index else "before its first round"
    return f"[snakesweep] the sweep stopped {when}: {content['stopped']}"


def lifted_stops(sweep: Sweep) -> list[Path]:
    """The rounds files to propose again because the budget no longer stops the sweep where it
    stopped (budget.max_trials, max_time_s, target or patience changed since): the first
    stopped round and the empty rounds after it. Nothing when the sweep has not stopped, when
    it stopped because the search was exhausted, or when the stop still holds."""
    from snakesweep.history import empty_history, read_history, run_time_s
    from snakesweep.outputs import read_json
    from snakesweep.stopping import stop_reason

    files = sweep.paths
    index = 0
    while files.rounds(index).exists() and not read_json(files.rounds(index)).get("stopped"):
        index += 1
    first = files.rounds(index)
    if not first.exists() or read_json(first)["stopped"].startswith("search exhausted"):
        return []
    if index and not files.history(index - 1).exists():
        return []  # the trials before the stop are not recorded yet: nothing to judge
    history = read_history(files.history(index - 1)) if index else empty_history()
    direction = sweep.objective.direction
    if stop_reason(sweep.budget, history, direction, index, run_time_s(history)):
        return []
    lifted = []
    while files.rounds(index).exists() and read_json(files.rounds(index)).get("stopped"):
        lifted.append(files.rounds(index))
        index += 1
    return lifted


def plain_tree(value: object) -> object:
    """`plain` applied through nested dicts and lists."""
    if isinstance(value, dict):
        return {str(k): plain_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_tree(v) for v in value]
    return plain(value)
