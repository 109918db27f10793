"""What a sweep will cost, before it runs and while it runs (`python -m snakesweep plan`).

The schedule comes from the config alone: rounds, trials per round, the epochs (and data
fraction) each trial trains, rungs of a multi-fidelity sweep, folds. The time comes from this
sweep's files: every finished train job gives its wall time (Snakemake's benchmark file, else
metrics.json's duration_s), the part of it spent fitting (`time/fit_s`) and the epochs it
trained, so a job is modelled as `overhead + seconds per epoch x epochs x data fraction`.
Finished rounds also give the workflow's own time per round (propose, record, the scheduler)
beyond their trials. Without a finished trial, an opt-in calibration (one trial at the lowest
fidelity, `calibration.json`) stands in; without either, the time is unknown and says so.

Pure reading of files: no torch, no Snakemake; the round line and `status` use it too.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snakesweep.fidelity import rung_of_round
from snakesweep.outputs import write_json
from snakesweep.paths import SweepPaths, round_name

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

#: A workflow step (record a round, track it in MLflow) before its benchmark file exists.
STEP_DEFAULT_S = 5.0
#: Snakemake's start (parsing, walking the finished rounds) when nothing measured it yet.
STARTUP_DEFAULT_S = 5.0
#: The default sweep's config file: what `plan` and `status` read without --configfile.
DEFAULT_CONFIGFILE = "config/config.yaml"
#: The quantiles of the measured per-job costs that give the low and high end of the range.
LOW_Q, HIGH_Q = 0.2, 0.8


@dataclass
class Round:
    """One round of the schedule: how many trials, and what each trains."""

    index: int
    trials: int
    epochs: float  # epochs each trial trains (a promoted trial: only the epochs it adds)
    data_fraction: float = 1.0
    rung: str = ""  # "bracket 2, rung 1 (3 epochs)" in a multi-fidelity sweep
    done: int = 0  # trials with a metrics.json
    finished: bool = False  # the round's history table is written


@dataclass
class Costs:
    """Per-job cost model from measured jobs: seconds = overhead + per_unit x units."""

    overhead: list[float] = field(default_factory=list)
    per_unit: list[float] = field(default_factory=list)
    completion: list[float] = field(default_factory=list)  # epochs trained / planned
    basis: str | None = None  # "N finished trials" | "calibration" | None


def _epochs_of(space: dict[str, Any]) -> float:
    """Expected max_epochs of a trial: a fixed value, the middle of a range, the mean of choices."""
    spec = space.get("max_epochs", 20)
    if not isinstance(spec, dict):
        return float(spec)
    if spec.get("type") == "fixed":
        return float(spec["value"])
    values = spec.get("choices") or spec.get("values")
    if values:
        return float(statistics.fmean(float(v) for v in values))
    return (float(spec["low"]) + float(spec["high"])) / 2.0


def ordered_configs(sweep: Sweep) -> list[dict[str, Any]] | None:
    """Every configuration a grid, one_at_a_time or replay search runs through, in its order
    (a shuffled grid: in row order); None for the other strategies, which never run out."""
    from snakesweep.strategies.grid import full_grid
    from snakesweep.strategies.one_at_a_time import sequence
    from snakesweep.strategies.replay import load_configs

    space, options = sweep.space, dict(sweep.search.options)
    strategy = sweep.search.strategy
    if strategy == "grid":
        return list(full_grid(space, options["points"]))
    if strategy == "one_at_a_time":
        return sequence(space, options)
    if strategy == "replay":
        return load_configs(options, space)
    return None


def schedule(sweep: Sweep) -> list[Round]:
    """Every round the budget allows, as the sweep plans it (a stopping rule may end it sooner).
    budget.max_trials does not cut a round short: the sweep proposes whole rounds while fewer
    trials than it have run. A grid, one_at_a_time sequence or replay list ends the sweep once
    it has run: its last round holds what is left of it."""
    budget = sweep.budget
    per_round = budget["trials_per_round"]
    # A table lookup or a user's training function: a trial is one unit, its epochs unknown.
    whole_trials = sweep.task == "tabular" or sweep.train.get("function")
    epochs = 0.0 if whole_trials else _epochs_of(sweep.config["space"])
    fid = sweep.fidelity
    rounds: list[Round] = []
    left = budget.get("max_trials") or math.inf
    ordered = ordered_configs(sweep) if fid is None else None
    configs_left = math.inf if ordered is None else len(ordered)
    for index in range(budget["rounds"]):
        if fid is None:
            if configs_left <= 0:
                break
            rounds.append(Round(index, int(min(per_round, configs_left)), epochs))
            configs_left -= rounds[-1].trials
        else:
            place = rung_of_round(fid, per_round, index)
            trials = int(place.size)
            label = f"bracket {place.bracket}, rung {place.rung}"
            if fid.kind == "epochs":
                previous = (
                    rung_of_round(fid, per_round, index - 1).fidelity if place.rung > 0 else 0.0
                )
                resumed = "resumed to " if place.rung > 0 else ""
                rung = f"{label} ({resumed}{place.fidelity:g} epochs)"
                rounds.append(Round(index, trials, place.fidelity - previous, 1.0, rung))
            else:
                rung = f"{label} ({place.fidelity:g} of the data)"
                rounds.append(Round(index, trials, epochs, place.fidelity, rung))
        left -= rounds[-1].trials
        if left <= 0:
            break
    return rounds


# --- what the budget reaches -------------------------------------------------------------------
def budget_note(sweep: Sweep) -> str | None:
    """One line when the budget ends before the search gets to its later part: an unshuffled
    grid, a one_at_a_time sequence or a replay list longer than the budget, or a bayes initial
    design (a coarse_to_fine coarse stage) that no round gets past. None otherwise. Not an
    error: raising the budget later continues the sweep where it stopped."""
    from snakesweep.strategies import warm_start_table
    from snakesweep.strategies.bayes import n_initial

    budget, space, options = sweep.budget, sweep.space, dict(sweep.search.options)
    rounds = schedule(sweep)
    total = sum(r.trials for r in rounds)
    if sweep.fidelity is not None:
        return _fidelity_note(sweep, len(rounds))
    runs = budget_text(sweep)
    strategy = sweep.search.strategy
    if strategy in ("grid", "one_at_a_time", "replay"):
        if strategy == "grid" and options["shuffle"]:
            return None
        order = ordered_configs(sweep)
        if total >= len(order):
            return None
        what = {
            "grid": f"the grid's {len(order)} configurations run in row order",
            "one_at_a_time": f"one_at_a_time's {len(order)} configurations run in order (the "
            "baseline, then each parameter in turn)",
            "replay": f"the replay list's {len(order)} configurations run in order",
        }[strategy]
        never = ""
        if strategy == "one_at_a_time":
            varied = [
                next((n for n in space.tuned if p.get(n) != order[0].get(n)), None) for p in order
            ]
            left = [n for n in space.tuned if n in varied[total:] and n not in varied[:total]]
            never = f" ({', '.join(left)} never varied)" if left else ""
        shuffle = ", or search.shuffle: true to sample the whole grid" if strategy == "grid" else ""
        return (
            f"[snakesweep] note: {what}; the budget ({runs}) runs the first {total} of them"
            f"{never}: set {_budget_for(budget, len(order))} to run them all{shuffle}"
        )
    if strategy not in ("bayes", "coarse_to_fine"):
        return None
    warm = len(warm_start_table(list(options["warm_start"]), space)) if options["warm_start"] else 0
    per_round = int(budget["trials_per_round"])
    design = (
        n_initial(options, space, per_round)
        if strategy == "bayes"
        else int(options["coarse_trials"])
    )
    # A round's proposals come from the model once the trials before it cover the design.
    before_last = total - rounds[-1].trials + warm
    if before_last >= design:
        return None
    option, model = {
        "bayes": ("search.initial_points", "the model"),
        "coarse_to_fine": ("search.coarse_trials", "the narrowed search"),
    }[strategy]
    need = (math.ceil(max(0, design - warm) / per_round) + 1) * per_round
    smallest = 2 if strategy == "coarse_to_fine" else 1
    lower = f"{option} to {before_last} or less, or " if before_last >= smallest else ""
    return (
        f"[snakesweep] note: {strategy} proposes its first {design} trials from a quasi-random "
        f"design ({option}); the budget ({runs}) never gets past it, so {model} never "
        f"proposes: set {lower}{_budget_for(budget, need)}"
    )


def budget_text(sweep: Sweep) -> str:
    """The budget as the sweep runs it: `4 rounds of 4 trials`; a multi-fidelity sweep's rungs
    take their sizes from the schedule, not budget.trials_per_round: `2 rounds, 12 trials (rungs
    of 9, 3)`."""
    budget = sweep.budget
    if sweep.fidelity is None:
        runs = (
            f"{_count(budget['rounds'], 'round')} of {_count(budget['trials_per_round'], 'trial')}"
        )
        return runs + (f", at most {budget['max_trials']}" if budget["max_trials"] else "")
    sizes = [r.trials for r in schedule(sweep)]
    shown = ", ".join(str(n) for n in sizes[:8]) + (", ..." if len(sizes) > 8 else "")
    return f"{_count(len(sizes), 'round')}, {_count(sum(sizes), 'trial')} (rungs of {shown})"


def _fidelity_note(sweep: Sweep, rounds: int) -> str | None:
    """A multi-fidelity sweep whose rounds end before any rung trains at the full fidelity (the
    first bracket's last rung): its best trials are judged at a lower one."""
    fid, per_round = sweep.fidelity, sweep.budget["trials_per_round"]
    assert fid is not None
    reached = [rung_of_round(fid, per_round, index).fidelity for index in range(rounds)]
    if max(reached, default=0.0) >= fid.high:
        return None
    full = next(i for i in range(1000) if rung_of_round(fid, per_round, i).fidelity >= fid.high)

    def amount(value: float) -> str:
        if fid.kind != "epochs":
            return f"{value:g} of the data"
        return f"{value:g} epoch{'' if value == 1 else 's'}"

    return (
        f"[snakesweep] note: no trial reaches the full fidelity ({amount(fid.high)}): the budget "
        f"ends after {_count(rounds, 'round')}, with rungs of at most {amount(max(reached))}; "
        f"set budget.rounds: {full + 1} to reach it"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _budget_for(budget: Any, trials: int) -> str:
    """The budget keys that let a sweep run `trials` trials, as `key: value` pairs."""
    rounds = math.ceil(trials / budget["trials_per_round"])
    keys = [f"budget.rounds: {rounds}"] if budget["rounds"] < rounds else []
    if budget["max_trials"] is not None and budget["max_trials"] < trials:
        keys.append(f"budget.max_trials: {trials}")
    return " and ".join(keys)


# --- what the files say -----------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def proposed_trials(files: SweepPaths) -> list[str]:
    """The trials of the sweep's rounds files so far (rounds/000.json, 001.json, ...), in order:
    a trial folder no round proposes (e.g. of a round dropped by lowering budget.rounds) is
    not the sweep's."""
    trials: list[str] = []
    index = 0
    while (proposals := _read_json(files.rounds(index))) is not None:
        trials += [proposal["trial"] for proposal in proposals.get("trials", [])]
        index += 1
    return trials


def _benchmark_s(path: Path) -> float | None:
    """Wall seconds of a job from its Snakemake benchmark file (the `s` column)."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        return float(rows[-1]["s"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def _planned(proposal: dict[str, Any]) -> tuple[float, float]:
    """(epochs, data fraction) a proposed trial trains; epochs it adds when it resumes."""
    fid = proposal.get("fidelity") or {}
    epochs = float((proposal.get("params") or {}).get("max_epochs", 20))
    if fid.get("kind") == "epochs":
        return float(fid["value"]), 1.0
    if fid.get("kind") == "data_fraction":
        return epochs, float(fid["value"])
    return epochs, 1.0


def _job_records(files: SweepPaths, trial: str) -> list[tuple[dict[str, Any], float | None]]:
    """(metrics.json record, benchmark seconds) of a finished trial's train jobs (one per fold)."""
    folds = files.fold_metrics(trial)
    if folds:
        return [
            (record, _benchmark_s(files.benchmark("train_fold", trial, files.fold_of(p.parent))))
            for p in folds
            if (record := _read_json(p)) is not None
        ]
    record = _read_json(files.metrics(trial))
    if record is None:
        return []
    return [(record, _benchmark_s(files.benchmark("train", trial)))]


def add_job(costs: Costs, record: dict[str, Any], job_s: float | None, planned: tuple) -> None:
    """Add one finished job to the cost model."""
    metrics = record.get("metrics") or {}
    job_s = job_s if job_s is not None else float(record.get("duration_s") or 0.0)
    planned_epochs, fraction = planned
    trained = float(metrics.get("epochs") or 0) - float(metrics.get("start_epoch") or 0)
    if trained <= 0 or planned_epochs <= 0:
        costs.overhead.append(job_s)
        return
    fit_s = metrics.get("time/fit_s")
    fit_s = float(fit_s) if fit_s is not None else job_s
    costs.overhead.append(max(0.0, job_s - fit_s))
    costs.per_unit.append(fit_s / (trained * fraction))
    costs.completion.append(min(1.0, trained / planned_epochs))


@dataclass
class SweepState:
    """The schedule with what has run: rounds, trial costs, round overheads, running trials."""

    rounds: list[Round]
    costs: Costs
    round_overhead_s: list[float] = field(default_factory=list)
    running: dict[str, dict[str, Any]] = field(default_factory=dict)  # trial -> progress
    stopped: str | None = None
    tail_s: float | None = None  # the steps after the last round, once they have run


def read_state(sweep: Sweep, slots: int = 1) -> SweepState:
    """The schedule, overlaid with the sweep's files: proposals, finished and running trials."""
    rounds = schedule(sweep)
    state = SweepState(rounds, Costs())
    metric = sweep.objective.metric
    files = sweep.paths
    previous_end = None
    for plan_round in rounds:
        proposals = _read_json(files.rounds(plan_round.index))
        # A round recorded before whose proposals are missing is being proposed again (a trial
        # of an earlier round trained again, and Snakemake removed the old file): until then it
        # is the trials it recorded, left out of the cost model (their planned epochs are gone).
        again = proposals is None and files.history(plan_round.index).exists()
        if again:
            proposals = {"trials": _recorded(files.history(plan_round.index), plan_round.index)}
        if proposals is None:
            break
        if proposals.get("stopped"):
            state.stopped = proposals["stopped"]
            del state.rounds[plan_round.index :]
            break
        trials = proposals["trials"]
        plan_round.trials = len(trials)
        job_seconds = []
        for proposal in trials:
            if files.metrics(proposal["trial"]).exists():
                plan_round.done += 1
                for record, seconds in [] if again else _job_records(files, proposal["trial"]):
                    add_job(state.costs, record, seconds, _planned(proposal))
                    job_seconds.append(seconds or float(record.get("duration_s") or 0.0))
            else:
                progress = trial_progress(files.trial_dir(proposal["trial"]), metric)
                if progress is not None:
                    progress["of_epochs"] = _planned(proposal)[0]
                    state.running[proposal["trial"]] = progress
        history = files.history(plan_round.index)
        if history.exists():
            # A trial deleted after its round's table was written trains again: its round is
            # not finished until it has.
            plan_round.finished = plan_round.done == plan_round.trials
            end = history.stat().st_mtime
            if plan_round.finished and not again:
                start = previous_end
                if start is None:  # round 0: from its proposals, plus the propose job itself
                    propose_s = _benchmark_s(files.benchmark("propose", round_name(0))) or 0.0
                    start = files.rounds(0).stat().st_mtime - propose_s
                overhead = end - start - makespan(job_seconds, slots)
                state.round_overhead_s.append(max(0.0, overhead))
            previous_end = end
    if state.costs.per_unit or state.costs.overhead:
        state.costs.basis = f"{sum(r.done for r in state.rounds)} finished trials"
    else:
        calibration = _read_json(files.calibration_json)
        if calibration:
            add_job(
                state.costs,
                calibration["record"],
                calibration["job_s"],
                tuple(calibration["planned"]),
            )
            state.costs.basis = "calibration"
    # The steps after the search ran once every round was recorded, unless a table was written
    # again after them (a trial trained again): then they run again.
    final = files.tracking_final
    if rounds and all(r.finished for r in rounds) and final.exists():
        made = final.stat().st_mtime
        recorded = max(files.history(r.index).stat().st_mtime for r in rounds)
        state.tail_s = made - recorded if made >= recorded else None
    return state


def _recorded(history: Path, index: int) -> list[dict[str, Any]]:
    """The trials of round `index` as its history table (history/NNN.csv) recorded them."""
    with open(history, newline="") as handle:
        return [
            {"trial": row["trial"]} for row in csv.DictReader(handle) if row["round"] == str(index)
        ]


def trial_progress(trial_dir: Path, metric: str) -> dict[str, Any] | None:
    """Epochs done and the last value of `metric` of a trial still training (its history.csv)."""
    rows: list[dict[str, str]] = []
    for path in [trial_dir / "history.csv", *sorted(trial_dir.glob("fold*/history.csv"))]:
        try:
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle)) or rows
        except OSError:
            continue
    if not trial_dir.is_dir():
        return None
    last = rows[-1] if rows else {}
    value = last.get(metric)
    return {
        "epoch": len(rows),
        "metric": metric,
        "value": float(value) if value not in (None, "") else None,
    }


def run_of(files: SweepPaths) -> dict[str, Any]:
    """When the current `snakemake` run started and with what resources (invocation.json)."""
    run = _read_json(files.invocation_json)
    run = run if isinstance(run, dict) else {}

    def number(key: str, kind: type) -> Any:  # a value edited by hand reads as unknown
        value = run.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    return {
        "started": number("started", int | float),
        "cores": number("cores", int) or 2,
        "gpus": number("gpus", int) or 0,
    }


def start_run(
    sweep: Sweep, started: float, cores: int, gpus: int, configfile: str | None = None
) -> str:
    """At the start of a run: record it (the round line's elapsed time counts from here) and
    return the plan's one-line summary, and the budget's note when it has one (budget_note).
    `configfile`: the run's --configfile, for the commands the summary names."""
    import socket

    sweep.paths.root.mkdir(parents=True, exist_ok=True)
    run = {"started": started, "cores": cores, "gpus": gpus, "host": socket.gethostname()}
    write_json(sweep.paths.invocation_json, run)
    plan = estimate(sweep, cores, gpus, now=started, starting=True)
    return "\n".join(filter(None, [summary_line(plan, configfile), plan["budget_note"]]))


# --- the estimate -----------------------------------------------------------------------------
def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def makespan(jobs: list[float], slots: int) -> float:
    """Wall time of jobs on `slots` parallel slots, longest first (as a scheduler fills them)."""
    loads = [0.0] * max(1, slots)
    for seconds in sorted(jobs, reverse=True):
        loads[loads.index(min(loads))] += seconds
    return max(loads)


def slots_of(sweep: Sweep, cores: int, gpus: int) -> int:
    """Trials that run at once: cores over the trial's threads (a round's lookups all at once),
    and GPU slots for GPU trials."""
    from snakesweep.cluster import gpus_per_trial, trial_threads, trials_per_gpu

    threads = trial_threads(sweep)
    if threads == 0:
        return int(sweep.budget["trials_per_round"])
    slots = max(1, cores // threads)
    per_trial = gpus_per_trial(sweep)
    if per_trial:
        slots = min(slots, max(1, gpus * trials_per_gpu(sweep) // per_trial))
    return slots


def _job_s(costs: Costs, epochs: float, fraction: float, q: float) -> float:
    """Seconds of one train job of `epochs` at `fraction` of the data, at quantile q."""
    units = epochs * fraction * (_quantile(costs.completion, 0.5) if costs.completion else 1.0)
    per_unit = _quantile(costs.per_unit, q) if costs.per_unit else 0.0
    return _quantile(costs.overhead, q) + per_unit * units


def estimate(
    sweep: Sweep,
    cores: int = 2,
    gpus: int = 0,
    now: float | None = None,
    starting: bool = False,
) -> dict[str, Any]:
    """The plan of a sweep as a dict (the `--json` output): counts, and the remaining time.

    `starting`: the estimate is for a run still to start, so Snakemake's own start counts too,
    and the budget's note (budget_note) is given."""
    from snakesweep.cluster import gpus_per_trial, train_threads, trials_per_gpu

    slots = slots_of(sweep, cores, gpus)
    # The finished rounds ran with the resources their run recorded, not those asked about now.
    run = run_of(sweep.paths)
    state = read_state(sweep, slots_of(sweep, run["cores"], run["gpus"]))
    folds = sweep.folds
    jobs_per_trial = max(1, folds)
    costs = state.costs
    known = costs.basis is not None
    threads = max(1, train_threads(sweep))
    gpu_share = gpus_per_trial(sweep) / trials_per_gpu(sweep)
    remaining = {"mid": 0.0, "low": 0.0, "high": 0.0}
    busy_s = 0.0  # train-job seconds still to run (CPU- and GPU-hours)
    round_overhead = statistics.median(state.round_overhead_s) if state.round_overhead_s else 0.0
    rounds_out = []
    for plan_round in state.rounds:
        left = plan_round.trials - plan_round.done
        rounds_out.append(
            {
                "round": plan_round.index,
                "trials": plan_round.trials,
                "epochs": plan_round.epochs,
                "data_fraction": plan_round.data_fraction,
                "rung": plan_round.rung,
                "trials_done": plan_round.done,
                "finished": plan_round.finished,
            }
        )
        if plan_round.finished or not known:
            continue
        for key, q in (("mid", 0.5), ("low", LOW_Q), ("high", HIGH_Q)):
            job = _job_s(costs, plan_round.epochs, plan_round.data_fraction, q)
            jobs = [job] * (left * jobs_per_trial)
            for trial, progress in state.running.items():
                if trial.startswith(f"r{plan_round.index:03d}-") and progress["of_epochs"]:
                    done = min(1.0, progress["epoch"] / progress["of_epochs"])
                    jobs[jobs.index(job)] = job * (1.0 - done)
            remaining[key] += makespan(jobs, slots) + round_overhead
            if key == "mid":
                busy_s += sum(jobs)
    finished_rounds = sum(r.finished for r in state.rounds)
    full_epochs = max((r.epochs for r in state.rounds), default=0.0)
    tail_s = 0.0
    if known and state.tail_s is None:  # the steps after the search have not run yet
        for key, q in (("mid", 0.5), ("low", LOW_Q), ("high", HIGH_Q)):
            tail = tail_estimate(sweep, costs, q, full_epochs)
            remaining[key] += tail + (STARTUP_DEFAULT_S if starting else 0.0)
            tail_s = tail if key == "mid" else tail_s
    trials_total = sum(r.trials for r in state.rounds)
    trials_done = sum(r.done for r in state.rounds)
    started = run["started"]
    result = {
        "sweep": sweep.name,
        "strategy": sweep.search.strategy,
        "cores": cores,
        "gpus": gpus,
        "parallel_trials": slots,
        "rounds_total": len(state.rounds),
        "rounds_finished": finished_rounds,
        "trials_total": trials_total,
        "trials_remaining": trials_total - trials_done,
        "folds": folds,
        "epochs_total": sum(r.trials * r.epochs * r.data_fraction for r in state.rounds),
        "evaluation_steps": evaluation_steps(sweep),
        "stopped": state.stopped,
        # Said when a run starts (and by `plan`), not at every round's line: it may read the
        # replay list and the warm-start tables.
        "budget_note": budget_note(sweep) if starting else None,
        "stopping_rules": [
            key for key in ("max_time_s", "target", "patience") if sweep.budget.get(key) is not None
        ],
        "basis": costs.basis,
        "remaining_wall_s": round(remaining["mid"], 1) if known else None,
        "remaining_wall_range_s": (
            [round(remaining["low"], 1), round(remaining["high"], 1)] if known else None
        ),
        "remaining_cpu_h": round(busy_s * threads / 3600, 6) if known else None,
        "remaining_gpu_h": round(busy_s * gpu_share / 3600, 6) if known else None,
        "seconds_per_epoch": round(_quantile(costs.per_unit, 0.5), 4) if costs.per_unit else None,
        "job_overhead_s": round(_quantile(costs.overhead, 0.5), 2) if costs.overhead else None,
        "round_overhead_s": round(round_overhead, 2),
        "tail_s": round(tail_s, 1),
        "running": state.running,
        "elapsed_s": None if started is None else round((now or time.time()) - started, 1),
        "rounds": rounds_out,
    }
    return result


def evaluation_steps(sweep: Sweep) -> list[str]:
    """The steps after the search (their names as the workflow's rules)."""
    steps = ["aggregate", "track", "plot_search", "report"]
    if sweep.evaluated:
        steps[1:1] = ["evaluate_best", "evaluate_ensemble"]
    return [*steps, "provenance", "track_final"]


def _median_benchmark(folder: Path) -> float | None:
    seconds = [s for p in folder.glob("*.tsv") if (s := _benchmark_s(p)) is not None]
    return statistics.median(seconds) if seconds else None


def tail_estimate(sweep: Sweep, costs: Costs, q: float, epochs: float) -> float:
    """Seconds of the steps after the last round, along their longest chain: aggregate (like a
    round's record step), the test-set evaluation (like one full trial: it refits the best one),
    the report and the final MLflow step (each like a round's MLflow step)."""
    files = sweep.paths
    record_s = _median_benchmark(files.benchmarks_of("record_round")) or STEP_DEFAULT_S
    track_s = _median_benchmark(files.benchmarks_of("track")) or STEP_DEFAULT_S
    evaluate_s = _job_s(costs, epochs, 1.0, q) if "evaluate_best" in evaluation_steps(sweep) else 0
    return record_s + evaluate_s + 2 * track_s


# --- text ---------------------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    """`45 s`, `12 min`, `3.4 h`."""
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def calibrate_command(configfile: str | None) -> str:
    """The command that calibrates the sweep of `configfile` (None: the default sweep)."""
    given = configfile is not None and Path(configfile) != Path(DEFAULT_CONFIGFILE)
    option = f" --configfile {shlex.quote(configfile)}" if given else ""
    return f"python -m snakesweep plan{option} --calibrate"


def summary_line(plan: dict[str, Any], configfile: str | None = None) -> str:
    """The one line a run prints first; `configfile`: the sweep's, for the calibrate command."""
    head = (
        f"[snakesweep] plan: {plan['sweep']}, {_count(plan['rounds_total'], 'round')}, "
        f"{_count(plan['trials_total'], 'trial')} ({plan['trials_remaining']} to run)"
    )
    if plan["remaining_wall_s"] is None:
        return (
            f"{head}; time unknown until the first trials finish "
            f"({calibrate_command(configfile)} measures one)"
        )
    low, high = plan["remaining_wall_range_s"]
    return (
        f"{head}, about {duration(plan['remaining_wall_s'])} "
        f"({duration(low)} to {duration(high)}) on {plan['parallel_trials']} parallel trials"
    )


def describe(plan: dict[str, Any], configfile: str | None = None) -> str:
    """The human-readable plan: the schedule, then the estimate; `configfile`: the sweep's."""
    lines = [summary_line(plan, configfile), *filter(None, [plan["budget_note"]]), ""]
    for item in plan["rounds"]:
        epochs = f" x {item['epochs']:g} epochs" if item["epochs"] else ""
        if item["data_fraction"] != 1.0:
            epochs += f" on {item['data_fraction']:g} of the data"
        state = "done" if item["finished"] else f"{item['trials_done']} done"
        rung = f", {item['rung']}" if item["rung"] else ""
        lines.append(
            f"  round {item['round'] + 1}/{plan['rounds_total']}: {item['trials']} "
            f"trial{'' if item['trials'] == 1 else 's'}"
            f"{epochs}{rung} [{state}]"
        )
    if plan["folds"]:
        lines.append(f"  each trial trains {plan['folds']} folds (one job each)")
    lines.append(f"  then: {', '.join(plan['evaluation_steps'])}")
    if plan["stopping_rules"]:
        lines.append(
            f"  stopping rules ({', '.join(plan['stopping_rules'])}) may end the sweep sooner"
        )
    if plan["stopped"]:
        lines.append(f"  stopped: {plan['stopped']}")
    lines.append("")
    if plan["remaining_wall_s"] is None:
        lines.append(
            "Time: cannot know yet; no trial of this sweep has finished. Run "
            f"`{calibrate_command(configfile)}` (trains one trial at the lowest fidelity) "
            "or start the sweep: its first round gives the estimate."
        )
    else:
        low, high = plan["remaining_wall_range_s"]
        gpus = f" and {plan['gpus']} GPUs" if plan["gpus"] else ""
        lines += [
            f"Estimated from {plan['basis']}: {plan['seconds_per_epoch'] or 0:g} s per epoch, "
            f"{plan['job_overhead_s'] or 0:g} s per job to start, "
            f"{plan['round_overhead_s']:g} s per round for the workflow.",
            f"Remaining: {duration(plan['remaining_wall_s'])} wall time "
            f"(range {duration(low)} to {duration(high)}) with {plan['cores']} cores{gpus} "
            f"({plan['parallel_trials']} trials at once); "
            f"{plan['remaining_cpu_h']:.3g} CPU-hours, {plan['remaining_gpu_h']:.3g} GPU-hours.",
        ]
    return "\n".join(lines)


# --- calibration -------------------------------------------------------------------------------
def calibrate(sweep: Sweep) -> dict[str, Any]:
    """Train the sweep's first proposed trial at the lowest fidelity (1 epoch, or the first rung)
    in a scratch folder, and keep its cost in calibration.json for plans before trials finish."""
    import tempfile

    from snakesweep.history import empty_history
    from snakesweep.rounds import make_round
    from snakesweep.trial import run_trial

    proposal = make_round(sweep, empty_history(), 0, 0.0)["trials"][0]
    trains_epochs = sweep.task != "tabular" and not sweep.train.get("function")
    if trains_epochs and "fidelity" not in proposal:
        proposal["fidelity"] = {"kind": "epochs", "value": 1}
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        record = run_trial(proposal, 0, sweep, Path(scratch) / proposal["trial"])
        job_s = time.perf_counter() - start
    calibration = {"record": record, "job_s": round(job_s, 3), "planned": list(_planned(proposal))}
    sweep.paths.root.mkdir(parents=True, exist_ok=True)
    sweep.paths.calibration_json.write_text(json.dumps(calibration, indent=2, default=str))
    return calibration


# --- status ------------------------------------------------------------------------------------
def best_so_far(sweep: Sweep) -> tuple[str, float] | None:
    """(trial, objective) of the best finished trial of the rounds proposed so far (finished
    and running alike), from their metrics.json files."""
    from snakesweep.history import best_trial, read_trials

    files = sweep.paths
    finished = [files.metrics(t) for t in proposed_trials(files) if files.metrics(t).exists()]
    table = read_trials(finished)
    best = best_trial(table, sweep.objective.direction) if len(table) else None
    return None if best is None else (str(best["trial"]), float(best["objective"]))


def status_text(sweep: Sweep, plan: dict[str, Any]) -> str:
    """What `python -m snakesweep status` prints: from the files only, so it works for a sweep
    running on a cluster as well as here."""
    total, finished = plan["rounds_total"], plan["rounds_finished"]
    done = plan["trials_total"] - plan["trials_remaining"]
    if not sweep.paths.rounds_dir.is_dir():
        return f"[snakesweep] {plan['sweep']}: not started ({sweep.paths.root} has no rounds yet)"
    if plan["stopped"] or (finished == total and total):
        head = f"all {_count(finished, 'round')} finished"
    else:  # the first round not finished (a later one when a trial was deleted to train again)
        running = next((r["round"] for r in plan["rounds"] if not r["finished"]), finished)
        head = f"round {running + 1}/{total} running, {finished} finished"
    lines = [f"[snakesweep] {plan['sweep']}: {head}, {done}/{plan['trials_total']} trials done"]
    for trial, progress in sorted(plan["running"].items()):
        value = "-" if progress["value"] is None else f"{progress['value']:.4g}"
        lines.append(
            f"  running {trial}: epoch {progress['epoch']}/{progress['of_epochs']:g}, "
            f"{progress['metric']} {value}"
        )
    best = best_so_far(sweep)
    best_text = "none yet" if best is None else f"{best[1]:.4g} ({best[0]})"
    elapsed = "" if plan["elapsed_s"] is None else f", elapsed {duration(plan['elapsed_s'])}"
    eta = "" if finished == total else f", ETA {duration(plan['remaining_wall_s'])}"
    lines.append(f"  best so far {best_text}{elapsed}{eta}")
    if plan["stopped"]:
        lines.append(f"  stopped: {plan['stopped']}")
    return "\n".join(lines)
