"""k-fold cross-validation: merge the folds of one trial into its record (no torch import).

Each fold is its own job (trials/<trial>/fold<k>/); the merged metrics.json has the mean of
every metric over the folds and `<metric>_std` beside it, and the objective is the mean.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

from snakesweep.outputs import read_json, write_atomic, write_json


def merge_records(records: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """One trial record from its folds' records (same trial, params and seed)."""
    first = records[0]
    merged: dict[str, Any] = {key: first.get(key) for key in ("trial", "round", "seed", "params")}
    statuses = [r.get("status") for r in records]
    errors = [f"fold {i}: {r['error']}" for i, r in enumerate(records) if r.get("error")]
    status = next((bad for bad in ("failed", "timeout", "diverged") if bad in statuses), "ok")
    metrics: dict[str, Any] = {}
    if status == "ok":
        names = [k for k in first.get("metrics", {}) if all(k in r["metrics"] for r in records)]
        for name in names:
            values = [float(r["metrics"][name]) for r in records]
            metrics[name] = statistics.fmean(values)
            if "/" in name and not name.startswith("time/"):
                metrics[f"{name}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
        metrics["cv/folds"] = len(records)
    objective = metrics.get(metric) if status == "ok" else None
    if objective is not None and not math.isfinite(objective):
        status, objective = "diverged", None
    merged.update(
        status=status,
        error="; ".join(errors) or None,
        objective=objective,
        metrics=metrics,
        duration_s=round(sum(float(r.get("duration_s") or 0.0) for r in records), 3),
        folds=[{"status": r.get("status"), "objective": r.get("objective")} for r in records],
    )
    return merged


def merge_histories(paths: list[Path]) -> list[dict[str, Any]]:
    """Per-epoch mean over the folds' history.csv (an epoch averages the folds that reached it)."""
    by_epoch: dict[int, list[dict[str, str]]] = {}
    for path in paths:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("epoch", "") != "":
                    by_epoch.setdefault(int(row["epoch"]), []).append(row)
    rows = []
    for epoch in sorted(by_epoch):
        group = by_epoch[epoch]
        row: dict[str, Any] = {"epoch": epoch}
        for key in group[0]:
            if key == "epoch":
                continue
            values = [float(r[key]) for r in group if r.get(key) not in (None, "")]
            if values:
                row[key] = statistics.fmean(values)
        rows.append(row)
    return rows


def merge_fold_files(
    metric_paths: list[Path],
    history_paths: list[Path],
    metric: str,
    out_metrics: Path,
    out_history: Path,
) -> dict[str, Any]:
    """Read the folds' files, write the trial's metrics.json and history.csv."""
    records = [read_json(p) for p in metric_paths]
    merged = merge_records(records, metric)
    rows = merge_histories([Path(p) for p in history_paths])
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=keys or ["epoch"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out_history, text.getvalue())
    write_json(out_metrics, merged)
    return merged
