"""Multi-fidelity search: successive halving, Hyperband and BOHB-style brackets; median pruning.

Rungs are rounds. A sweep's rounds walk a fixed schedule of brackets (Hyperband's, or one
successive-halving bracket), repeated until the round budget ends; round k is one rung of one
bracket. Rung 0 of a bracket proposes new configurations at the bracket's lowest fidelity; rung
i > 0 promotes the best 1/eta of rung i-1 (the round before), which resume from their own
checkpoints. Everything is a pure function of (config, finished trials, round index), so a rerun
or a resumed sweep plans the same rungs. No torch import here: this runs in the propose job.

Fidelity is `epochs` (a trial trains until that epoch count; its learning-rate schedule always
spans `max_fidelity` epochs, so a resumed trial continues exactly where it stopped) or
`data_fraction` (a trial trains `max_epochs` on that fraction of its training split; promoted
trials start again from scratch on the larger fraction).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from snakesweep.errors import ConfigError
from snakesweep.seeds import MAX_IDS

MULTI_FIDELITY = ("successive_halving", "hyperband", "bohb")
KINDS = ("epochs", "data_fraction")
#: Search options shared by the multi-fidelity strategies (name -> default).
OPTIONS: dict[str, Any] = {
    "fidelity": "epochs",
    "min_fidelity": None,  # None: 1 epoch, or a data fraction of 0.1
    "max_fidelity": None,  # None: the space's max_epochs (epochs) or 1.0 (data_fraction)
    "eta": 3,
    "brackets": None,  # hyperband: brackets per iteration (None: all)
    # successive_halving: configurations a bracket starts with (None: eta ** number of rungs - 1)
    "bracket_size": None,
}
#: BOHB: share of a bracket's new configurations drawn at random (keeps Hyperband's guarantees).
BOHB_OPTIONS: dict[str, Any] = {"random_fraction": 0.33}
DEFAULT_EPOCHS = 20  # the trainer's default max_epochs

PRUNING_DEFAULTS: dict[str, Any] = {
    "rule": "none",
    "percentile": 50.0,
    "metric": None,  # None: the objective metric
    "warmup_epochs": 1,
    "min_trials": 3,
}


# --- options ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fidelity:
    kind: str
    low: float
    high: float
    eta: float
    strategy: str
    brackets: int | None
    bracket_size: int | None

    @property
    def resumable(self) -> bool:
        return self.kind == "epochs"

    @property
    def s_max(self) -> int:
        return int(math.floor(math.log(self.high / self.low) / math.log(self.eta) + 1e-9))

    def level(self, exponent: int) -> float:
        """Fidelity `eta**-exponent` of the maximum, never below the minimum."""
        value = max(self.low, self.high * self.eta ** (-exponent))
        if self.kind == "epochs":
            return float(max(int(self.low), int(round(value))))
        return round(value, 6)


def _space_max_epochs(space: Mapping[str, Any]) -> Any:
    spec = space.get("max_epochs", DEFAULT_EPOCHS)
    if isinstance(spec, Mapping):
        if spec.get("type") == "fixed":
            return spec.get("value")
        raise ConfigError(
            "space.max_epochs",
            "is searched, but an epochs fidelity sets every trial's epochs",
            "fix max_epochs (it is the maximum fidelity), or use search.fidelity: data_fraction",
        )
    return spec


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(key, f"must be a number, got {value!r}")
    return float(value)


def fidelity_of(config: Mapping[str, Any]) -> Fidelity | None:
    """The validated fidelity settings of a multi-fidelity sweep (None for other strategies).

    Raises ConfigError naming the key for eta < 2, min >= max, a fidelity the model cannot
    train at, or an epochs fidelity the space also searches.
    """
    search = config.get("search") or {}
    if isinstance(search, str):
        search = {"strategy": search}
    strategy = search.get("strategy")
    if strategy not in MULTI_FIDELITY:
        return None
    opts = {**OPTIONS, **{k: v for k, v in search.items() if k in OPTIONS}}
    kind = opts["fidelity"]
    if kind not in KINDS:
        raise ConfigError(
            "search.fidelity", f"unknown fidelity {kind!r}", f"use one of {', '.join(KINDS)}"
        )
    eta = _number("search.eta", opts["eta"])
    if eta < 2:
        raise ConfigError(
            "search.eta", f"{opts['eta']} is below 2", "use a reduction factor >= 2, e.g. 3"
        )
    space = config.get("space") or {}
    if kind == "epochs":
        high = opts["max_fidelity"]
        space_max = _space_max_epochs(space)
        if high is None:
            high = space_max
        elif "max_epochs" in space and space_max != high:
            raise ConfigError(
                "search.max_fidelity",
                f"{high} epochs, but space.max_epochs is {space_max}",
                "drop one of them: the maximum fidelity is every trial's max_epochs",
            )
        low = 1 if opts["min_fidelity"] is None else opts["min_fidelity"]
        for key, value in (("search.min_fidelity", low), ("search.max_fidelity", high)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(key, f"must be a whole number of epochs >= 1, got {value!r}")
        _check_resumable(config)
    else:
        data = config.get("data") or {}
        if data.get("class_path"):
            raise ConfigError(
                "search.fidelity",
                "a data_fraction fidelity needs the built-in data sets, not data.class_path",
                "use fidelity: epochs",
            )
        high = 1.0 if opts["max_fidelity"] is None else opts["max_fidelity"]
        low = 0.1 if opts["min_fidelity"] is None else opts["min_fidelity"]
        for key, value in (("search.min_fidelity", low), ("search.max_fidelity", high)):
            if not 0 < _number(key, value) <= 1:
                raise ConfigError(key, f"a data fraction must be in (0, 1], got {value!r}")
    low, high = float(low), float(high)
    if low >= high:
        raise ConfigError(
            "search.min_fidelity",
            f"{opts['min_fidelity'] if opts['min_fidelity'] is not None else low:g} is not below "
            f"the maximum fidelity {high:g}",
            "lower min_fidelity or raise max_fidelity",
        )
    if high / low < eta:
        raise ConfigError(
            "search.eta",
            f"max/min fidelity is {high / low:g}, less than eta={eta:g}: no rung to promote to",
            "lower eta or widen the fidelity range",
        )
    for key in ("brackets", "bracket_size"):
        value = opts[key]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"search.{key}", f"must be an integer >= 1, got {value!r}")
    if strategy == "bohb":
        frac = search.get("random_fraction", BOHB_OPTIONS["random_fraction"])
        if not 0 <= _number("search.random_fraction", frac) <= 1:
            raise ConfigError("search.random_fraction", f"must be in [0, 1], got {frac!r}")
    fid = Fidelity(kind, low, high, eta, strategy, opts["brackets"], opts["bracket_size"])
    per_round = (config.get("budget") or {}).get("trials_per_round", 1)
    largest = max(size for rungs in bracket_plan(fid, per_round) for size, _ in rungs)
    if largest > MAX_IDS:
        sized = opts["bracket_size"] is not None and strategy == "successive_halving"
        raise ConfigError(
            "search.bracket_size" if sized else "search.min_fidelity",
            f"the schedule has a rung of {largest} trials, more than the {MAX_IDS} a round "
            "can hold (trial ids have three digits)",
            "lower bracket_size" if sized else "raise min_fidelity or eta, or set brackets",
        )
    return fid


def _check_resumable(config: Mapping[str, Any]) -> None:
    """An epochs fidelity resumes trials from their checkpoint: refuse what cannot resume."""
    evaluate = config.get("evaluate") or {}
    if evaluate.get("folds"):
        raise ConfigError(
            "search.fidelity",
            "cross-validated trials (evaluate.folds) cannot resume from one checkpoint",
            "drop evaluate.folds, or use fidelity: data_fraction",
        )


# --- schedule --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rung:
    """One round's place in the schedule."""

    iteration: int  # how many times the whole schedule ran before
    bracket: int  # s: the bracket runs s+1 rungs, starting at fidelity max * eta**-s
    rung: int  # 0 = new configurations
    size: int  # trials in this rung
    fidelity: float


def bracket_plan(fid: Fidelity, trials_per_round: int) -> list[list[tuple[int, float]]]:
    """The brackets of one iteration, each a list of rungs (size, fidelity)."""
    s_max = fid.s_max
    if fid.strategy == "successive_halving":
        n0 = fid.bracket_size or int(round(fid.eta**s_max))
        brackets = [(s_max, n0)]
    else:
        count = s_max + 1 if fid.brackets is None else min(fid.brackets, s_max + 1)
        brackets = [
            (s, int(math.ceil((s_max + 1) / (s + 1) * fid.eta**s)))
            for s in range(s_max, s_max - count, -1)
        ]
    plan = []
    for s, n0 in brackets:
        rungs = []
        for i in range(s + 1):
            size = max(1, int(math.floor(n0 * fid.eta ** (-i) + 1e-9)))
            rungs.append((size, fid.level(s - i)))
        plan.append(rungs)
    return plan


def rung_of_round(fid: Fidelity, trials_per_round: int, round_index: int) -> Rung:
    plan = bracket_plan(fid, trials_per_round)
    per_iteration = sum(len(rungs) for rungs in plan)
    iteration, position = divmod(round_index, per_iteration)
    for rungs in plan:
        if position < len(rungs):
            size, level = rungs[position]
            return Rung(iteration, len(rungs) - 1, position, size, level)
        position -= len(rungs)
    raise AssertionError("unreachable")


# --- promotions ------------------------------------------------------------------------------
def promotion_order(rung: pd.DataFrame, direction: str) -> list[str]:
    """Trial ids of a finished rung, best first; only `ok` trials; ties by trial id."""
    if rung.empty:
        return []
    ok = rung[(rung["status"].astype(str) == "ok")].copy()
    ok["_y"] = pd.to_numeric(ok["objective"], errors="coerce")
    ok = ok[np.isfinite(ok["_y"])]
    if direction == "maximize":
        ok["_y"] = -ok["_y"]
    return list(ok.sort_values(["_y", "trial"], kind="mergesort")["trial"])


def promote(rung: pd.DataFrame, size: int, direction: str) -> list[str]:
    """The trials of the previous rung that go on to the next: the best `size` of them."""
    return promotion_order(rung, direction)[:size]


def _params_of(space: Any, rows: pd.DataFrame) -> list[dict[str, Any]]:
    from snakesweep.strategies._base import history_params

    return history_params(space, rows)


def plan_round(
    config: Mapping[str, Any], history: pd.DataFrame, round_index: int, seed: int
) -> list[dict[str, Any]]:
    """The trials of one multi-fidelity round: promotions of the previous rung, or new configs.

    Each entry has `params`, a `fidelity` record (kind, value, bracket, rung, iteration,
    parent, resume_from) and, for promotions, the parent's `seed`.
    """
    from snakesweep.space import parse_space

    fid = fidelity_of(config)
    if fid is None:
        raise ValueError(f"{config['search']['strategy']!r} is not a multi-fidelity strategy")
    direction = config["objective"]["direction"]
    space = parse_space(config["space"])
    place = rung_of_round(fid, config["budget"]["trials_per_round"], round_index)
    record = {
        "kind": fid.kind,
        "value": int(place.fidelity) if fid.kind == "epochs" else place.fidelity,
        "bracket": place.bracket,
        "rung": place.rung,
        "iteration": place.iteration,
    }
    entries: list[dict[str, Any]] = []
    if place.rung > 0:
        previous = history[history["round"] == round_index - 1] if len(history) else history
        chosen = promote(previous, place.size, direction)
        rows = previous.set_index("trial").loc[chosen].reset_index() if chosen else previous[:0]
        for (_, row), params in zip(rows.iterrows(), _params_of(space, rows), strict=True):
            entries.append(
                {
                    "params": _with_fidelity(params, fid),
                    "seed": int(row["seed"]),
                    "fidelity": {
                        **record,
                        "parent": row["trial"],
                        "resume_from": row["trial"] if fid.resumable else None,
                    },
                }
            )
        return entries
    for params in new_configurations(config, fid, space, history, place.size, seed):
        entries.append(
            {
                "params": _with_fidelity(params, fid),
                "fidelity": {**record, "parent": None, "resume_from": None},
            }
        )
    return entries


def _with_fidelity(params: dict[str, Any], fid: Fidelity) -> dict[str, Any]:
    if fid.kind == "epochs":
        # The schedule's horizon: every trial's learning-rate schedule spans the full budget.
        return {**params, "max_epochs": int(fid.high)}
    return dict(params)


def fidelity_column(history: pd.DataFrame, fid: Fidelity, trials_per_round: int) -> pd.Series:
    """The rung fidelity each finished trial was trained at (from its round)."""
    if history.empty:
        return pd.Series(dtype=float)
    levels = {
        r: rung_of_round(fid, trials_per_round, int(r)).fidelity for r in history["round"].unique()
    }
    return history["round"].map(levels).astype(float)


def new_configurations(
    config: Mapping[str, Any],
    fid: Fidelity,
    space: Any,
    history: pd.DataFrame,
    n: int,
    seed: int,
) -> list[dict[str, Any]]:
    """A bracket's new configurations: random, or (bohb) partly from a Bayesian model fitted to
    the results at the highest fidelity that has enough of them."""
    from snakesweep.strategies import search_options
    from snakesweep.strategies._base import dedupe, observations, random_points, rng_for

    direction = config["objective"]["direction"]
    _, opts = search_options(config["search"])
    seen = observations(space, history, direction, opts["failure_penalty"]).params
    rng = rng_for(seed, len(seen), 31)
    proposals: list[dict[str, Any]] = []
    if fid.strategy == "bohb" and len(history):
        n_model = n - int(
            round(n * float(opts.get("random_fraction", BOHB_OPTIONS["random_fraction"])))
        )
        subset = model_history(
            history, fid, config["budget"]["trials_per_round"], len(space.tuned) + 1
        )
        if n_model > 0 and subset is not None:
            from snakesweep.strategies.multifidelity import model_points

            obs = observations(space, subset, direction, opts["failure_penalty"])
            proposals = [space.complete(p) for p in model_points(space, obs, n_model, seed, opts)]
    proposals += random_points(space, n - len(proposals), rng)
    return dedupe(space, proposals, seen, n, rng)


def model_history(
    history: pd.DataFrame, fid: Fidelity, trials_per_round: int, needed: int
) -> pd.DataFrame | None:
    """BOHB's training set: the finished trials of the highest fidelity with >= `needed` of them
    (each configuration once: a promoted trial's parent sits at a lower fidelity)."""
    done = history[history["status"].astype(str) == "ok"]
    if done.empty:
        return None
    level = fidelity_column(done, fid, trials_per_round)
    for value in sorted(level.unique(), reverse=True):
        subset = done[np.isclose(level, value)]
        if len(subset) >= needed:
            return subset
    return None


# --- pruning ---------------------------------------------------------------------------------
def pruning_of(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The validated pruning settings, or None when pruning is off."""
    raw = config.get("pruning") or {}
    cfg = {**PRUNING_DEFAULTS, **raw}
    if cfg["rule"] in (None, "none"):
        return None
    if cfg["rule"] not in ("median", "percentile"):
        raise ConfigError(
            "pruning.rule", f"unknown rule {cfg['rule']!r}", "use none, median or percentile"
        )
    if cfg["rule"] == "median":
        cfg["percentile"] = 50.0
    pct = _number("pruning.percentile", cfg["percentile"])
    if not 0 < pct < 100:
        raise ConfigError("pruning.percentile", f"{pct} is not in (0, 100)")
    metric = cfg["metric"] or (config.get("objective") or {}).get("metric", "val/loss")
    stage = str(metric).partition("/")[0]
    data = config.get("data") or {}
    if stage != "val" and metric != "train/loss":
        raise ConfigError(
            "pruning.metric",
            f"{metric!r} is not monitored during training",
            "prune on a per-epoch metric such as val/loss or val/acc",
        )
    if stage == "val" and not data.get("class_path") and float(data.get("val_fraction", 0.2)) <= 0:
        raise ConfigError(
            "pruning.metric",
            f"{metric!r} needs a validation split, but data.val_fraction is 0",
            "set data.val_fraction > 0 or prune on train/loss",
        )
    objective = config.get("objective") or {}
    if cfg["metric"] in (None, objective.get("metric")):
        mode = "max" if objective.get("direction") == "maximize" else "min"
    else:
        higher_is_better = ("acc", "f1", "precision", "recall", "auroc", "r2")
        mode = "max" if str(metric).rpartition("/")[2] in higher_is_better else "min"
    for key in ("warmup_epochs", "min_trials"):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"pruning.{key}", f"must be an integer >= 0, got {value!r}")
    return {**cfg, "metric": metric, "mode": mode, "percentile": pct}


def curve_rows(
    trial: str, round_index: int, history: pd.DataFrame, metric: str, mode: str, start_epoch: int
) -> pd.DataFrame:
    """A trial's learning curve as pruning sees it: best-so-far of `metric` per epoch, only the
    epochs this trial trained itself (a resumed trial's earlier epochs belong to its parent)."""
    if metric not in history.columns or history.empty:
        return pd.DataFrame(columns=["trial", "round", "epoch", "value"])
    values = pd.to_numeric(history[metric], errors="coerce")
    best = values.cummin() if mode == "min" else values.cummax()
    out = pd.DataFrame(
        {"trial": trial, "round": round_index, "epoch": history["epoch"].astype(int), "value": best}
    )
    return out[out["epoch"] >= start_epoch].reset_index(drop=True)


CURVE_COLUMNS = ["trial", "round", "epoch", "value"]


def read_curves(path: Any) -> pd.DataFrame:

    from snakesweep.outputs import read_whole

    if path is None:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.read_csv(io.StringIO(read_whole(path)))


def round_curves(
    previous: pd.DataFrame, trials: list[tuple[Any, Any]], metric: str, mode: str
) -> pd.DataFrame:
    """The curves table after a round: `previous` plus each (metrics.json, history.csv) pair's
    curve. A resumed trial adds only the epochs it trained itself."""
    import json
    from pathlib import Path

    frames = [previous] if len(previous) else []
    for metrics_path, history_path in trials:
        record = json.loads(Path(metrics_path).read_text())
        try:
            history = pd.read_csv(history_path)
        except (pd.errors.EmptyDataError, FileNotFoundError):
            continue
        if "epoch" not in history.columns or history.empty:
            continue
        fid = record.get("fidelity") or {}
        start = (record.get("metrics") or {}).get("start_epoch")
        if start is None:
            start = 0
            if fid.get("resume_from"):
                start = _parent_epochs(Path(metrics_path).parent.parent / fid["resume_from"])
        start = int(start)
        frames.append(curve_rows(record["trial"], record["round"], history, metric, mode, start))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    return table.drop_duplicates(["trial", "epoch"], keep="last").reset_index(drop=True)


def _parent_epochs(parent_dir: Any) -> int:
    try:
        return len(pd.read_csv(parent_dir / "history.csv"))
    except (pd.errors.EmptyDataError, FileNotFoundError):
        return 0


def prune_thresholds(curves: pd.DataFrame | None, pruning: Mapping[str, Any]) -> dict[str, float]:
    """Per epoch (as a string key, for JSON): the percentile a trial's best-so-far must reach.

    Minimising, a trial is pruned at epoch e when its best-so-far is worse (above) the
    `percentile` of earlier trials' best-so-far at e; maximising, below the (100 - p)-th.
    Epochs before `warmup_epochs`, or with fewer than `min_trials` earlier curves, never prune.
    """
    if curves is None or curves.empty:
        return {}
    out = {}
    q = pruning["percentile"] if pruning["mode"] == "min" else 100 - pruning["percentile"]
    for epoch, group in curves.groupby("epoch"):
        values = pd.to_numeric(group["value"], errors="coerce").dropna().to_numpy()
        if int(epoch) < pruning["warmup_epochs"] or len(values) < max(1, pruning["min_trials"]):
            continue
        out[str(int(epoch))] = float(np.percentile(values, q))
    return out


def prune_spec(curves: pd.DataFrame | None, pruning: Mapping[str, Any] | None) -> dict | None:
    """What a trial's pruning callback needs (None when pruning is off or has no data yet)."""
    if pruning is None:
        return None
    thresholds = prune_thresholds(curves, pruning)
    if not thresholds:
        return None
    return {"metric": pruning["metric"], "mode": pruning["mode"], "thresholds": thresholds}


def should_prune(best_so_far: float, epoch: int, spec: Mapping[str, Any]) -> bool:
    """The pruning rule itself (used by the training callback)."""
    threshold = spec["thresholds"].get(str(int(epoch)))
    if threshold is None:
        return False
    if not math.isfinite(best_so_far):
        return True
    return best_so_far > threshold if spec["mode"] == "min" else best_so_far < threshold


# --- accounting (report) ---------------------------------------------------------------------
def epochs_table(
    rounds: list[Mapping[str, Any]], table: pd.DataFrame, max_epochs: float | None = None
) -> pd.DataFrame:
    """One row per trial: round, bracket, rung, fidelity, parent, epochs it trained itself, and
    its status. `rounds` are the rounds/NNN.json contents; `table` the trials table."""
    status = table.set_index("trial")["status"].to_dict() if len(table) else {}
    epochs = {}
    if len(table) and "epochs" in table.columns:
        epochs = pd.to_numeric(table.set_index("trial")["epochs"], errors="coerce").to_dict()
    reached: dict[str, float] = {}
    rows = []
    for content in rounds:
        for entry in content.get("trials", []):
            fid = entry.get("fidelity") or {}
            trial = entry["trial"]
            total = epochs.get(trial, np.nan)
            start = reached.get(fid.get("resume_from") or "", 0.0)
            trained = total - start if math.isfinite(total) else np.nan
            if math.isfinite(total):
                reached[trial] = total
            rows.append(
                {
                    "trial": trial,
                    "round": content["round"],
                    "bracket": fid.get("bracket"),
                    "rung": fid.get("rung"),
                    "fidelity": fid.get("value"),
                    "parent": fid.get("parent"),
                    "status": status.get(trial),
                    "epochs": total,
                    "epochs_trained": trained,
                }
            )
    out = pd.DataFrame(rows)
    if max_epochs is not None and not out.empty:
        out.attrs["max_epochs"] = max_epochs
    return out


def epochs_saved(epochs: pd.DataFrame, max_epochs: float) -> dict[str, float]:
    """Epochs trained versus every configuration run to the end (`max_epochs` each)."""
    if epochs.empty:
        return {"configurations": 0, "epochs_trained": 0.0, "epochs_full": 0.0, "saved": 0.0}
    configs = int(epochs["parent"].isna().sum())
    trained = float(pd.to_numeric(epochs["epochs_trained"], errors="coerce").fillna(0).sum())
    full = float(configs * max_epochs)
    return {
        "configurations": configs,
        "epochs_trained": trained,
        "epochs_full": full,
        "saved": full - trained,
        "saved_fraction": (full - trained) / full if full else 0.0,
    }
