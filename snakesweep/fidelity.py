"""The multi-fidelity schedule: settings, brackets and rungs, promotions, epochs accounting.

Rungs are rounds. A sweep's rounds walk a fixed schedule of brackets (Hyperband's, or one
successive-halving bracket), repeated until the round budget ends; round k is one rung of one
bracket. Rung 0 of a bracket proposes new configurations at the bracket's lowest fidelity; rung
i > 0 promotes the best 1/eta of rung i-1 (the round before), which resume from their own
checkpoints. Everything is a pure function of (config, finished trials, round index), so a rerun
or a resumed sweep plans the same rungs. No torch import here: this runs in the propose job.
The strategies that plan rounds on this schedule are in snakesweep.strategies.multifidelity.

Fidelity is `epochs` (a trial trains until that epoch count; its learning-rate schedule always
spans `max_fidelity` epochs, so a resumed trial continues exactly where it stopped) or
`data_fraction` (a trial trains `max_epochs` on that fraction of its training split; promoted
trials start again from scratch on the larger fraction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from snakesweep.errors import ConfigError, finite_number
from snakesweep.paths import MAX_IDS

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
    eta = finite_number("search.eta", opts["eta"])
    if eta < 2:
        raise ConfigError(
            "search.eta", f"{opts['eta']} is below 2", "use a reduction factor >= 2, e.g. 3"
        )
    space = config.get("space") or {}
    high_key = "search.max_fidelity"  # the key a user fixes for the maximum fidelity
    if kind == "epochs":
        high = opts["max_fidelity"]
        space_max = _space_max_epochs(space)
        if high is None:
            high, high_key = space_max, "space.max_epochs"
            if isinstance(high, float) and high.is_integer():
                high = int(high)  # `max_epochs: 9.0` trains 9 epochs, as without a fidelity
        elif "max_epochs" in space and space_max != high:
            raise ConfigError(
                "search.max_fidelity",
                f"{high} epochs, but space.max_epochs is {space_max}",
                "drop one of them: the maximum fidelity is every trial's max_epochs",
            )
        low = 1 if opts["min_fidelity"] is None else opts["min_fidelity"]
        for key, value in (("search.min_fidelity", low), (high_key, high)):
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
            if not 0 < finite_number(key, value) <= 1:
                raise ConfigError(key, f"a data fraction must be in (0, 1], got {value!r}")
    low, high = float(low), float(high)
    if low >= high and opts["min_fidelity"] is None:
        raise ConfigError(
            high_key,
            f"the maximum fidelity {high:g} is not above the minimum {low:g}: no rung to promote",
            f"raise {high_key.rpartition('.')[2]}: rungs train from min_fidelity up to it",
        )
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
        if not 0 <= finite_number("search.random_fraction", frac) <= 1:
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


def fidelity_column(history: pd.DataFrame, fid: Fidelity, trials_per_round: int) -> pd.Series:
    """The rung fidelity each finished trial was trained at (from its round)."""
    if history.empty:
        return pd.Series(dtype=float)
    levels = {
        r: rung_of_round(fid, trials_per_round, int(r)).fidelity for r in history["round"].unique()
    }
    return history["round"].map(levels).astype(float)


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
