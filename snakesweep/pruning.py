"""Pruning: stop a trial whose learning curve falls behind earlier trials' curves.

The propose job turns the finished trials' curves (curves/NNN.csv) into per-epoch thresholds
carried by each proposal (`prune`); the training callback (snakesweep.train.module) compares the
trial's best-so-far with them every epoch. Pure pandas: no torch, no strategies.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from snakesweep.errors import ConfigError, finite_number
from snakesweep.metrics import mode_of

PRUNING_DEFAULTS: dict[str, Any] = {
    "rule": "none",
    "percentile": 50.0,
    "metric": None,  # None: the objective metric
    "warmup_epochs": 1,
    "min_trials": 3,
}


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
        if cfg["percentile"] != 50:
            raise ConfigError(
                "pruning.percentile",
                f"{cfg['percentile']} is read only by rule: percentile (median prunes at 50)",
                "set rule: percentile, or remove percentile",
            )
        cfg["percentile"] = 50.0
    pct = finite_number("pruning.percentile", cfg["percentile"])
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
        mode = mode_of(metric) or "min"
    for key in ("warmup_epochs", "min_trials"):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"pruning.{key}", f"must be an integer >= 0, got {value!r}")
    epochs = most_epochs(config)
    if epochs is not None and cfg["warmup_epochs"] >= epochs:
        raise ConfigError(
            "pruning.warmup_epochs",
            f"{cfg['warmup_epochs']}, but trials train at most {epochs} epochs (numbered from 0): "
            "no epoch is ever judged",
            f"use warmup_epochs below {epochs}",
        )
    return {**cfg, "metric": metric, "mode": mode, "percentile": pct}


def most_epochs(config: Mapping[str, Any]) -> int | None:
    """The most epochs a trial of this config trains (None when the space does not say)."""
    from snakesweep.fidelity import DEFAULT_EPOCHS, fidelity_of

    fidelity = fidelity_of(config)
    if fidelity is not None and fidelity.resumable:
        return int(fidelity.high)
    spec = (config.get("space") or {}).get("max_epochs", DEFAULT_EPOCHS)
    if isinstance(spec, Mapping):
        values = spec.get("values")
        spec = spec.get("value", spec.get("high", max(values) if values else None))
    return int(spec) if isinstance(spec, int | float) and not isinstance(spec, bool) else None


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
