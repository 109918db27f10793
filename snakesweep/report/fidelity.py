"""The multi-fidelity part of a sweep's report: rungs and brackets, promotions, epochs saved.

Read from the rounds files (which trial went on from which, at what fidelity) and the trials
table (epochs each trial reached); see snakesweep.fidelity for how rungs are planned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from snakesweep.fidelity import epochs_saved, epochs_table
from snakesweep.paths import SweepPaths

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep


def read_rounds(files: SweepPaths) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(files.rounds_dir.glob("*.json"))]


def rung_table(epochs: pd.DataFrame, table: pd.DataFrame, direction: str) -> pd.DataFrame:
    """One row per rung (round): bracket, rung, fidelity, trials, how many came from promotion,
    the rung's best objective and the epochs trained in it."""
    if epochs.empty:
        return pd.DataFrame()
    objective = table.set_index("trial")["objective"] if len(table) else pd.Series(dtype=float)
    frame = epochs.assign(objective=epochs["trial"].map(objective))
    rows = []
    for round_index, group in frame.groupby("round", sort=True):
        values = pd.to_numeric(group["objective"], errors="coerce")
        best = values.min() if direction == "minimize" else values.max()
        rows.append(
            {
                "round": int(round_index),
                "bracket": group["bracket"].iloc[0],
                "rung": group["rung"].iloc[0],
                "fidelity": group["fidelity"].iloc[0],
                "trials": len(group),
                "promoted": int(group["parent"].notna().sum()),
                "promoted from": ", ".join(
                    f"{row.trial} ← {row.parent}"
                    for row in group.itertuples()
                    if pd.notna(row.parent)
                ),
                "pruned": int((group["status"] == "pruned").sum()),
                "best objective": best,
                "epochs trained": float(pd.to_numeric(group["epochs_trained"]).sum()),
            }
        )
    return pd.DataFrame(rows)


def fidelity_markdown(sweep: Sweep, table: pd.DataFrame) -> str:
    """The report's "Rungs and brackets" section ('' for a sweep without fidelities)."""
    from snakesweep.report.summary import markdown_table

    fid = sweep.fidelity
    if fid is None:
        return ""
    epochs = epochs_table(read_rounds(sweep.paths), table)
    if epochs.empty:
        return ""
    direction = sweep.objective.direction
    lines = [
        "## Rungs and brackets",
        "",
        f"{fid.strategy}: fidelity {fid.kind} from {fid.low:g} to {fid.high:g}, eta {fid.eta:g}. "
        "Each rung is one round; the best 1/eta of a rung go on to the next"
        + (", resuming from their checkpoints." if fid.resumable else "."),
        "",
        markdown_table(rung_table(epochs, table, direction)),
        "",
    ]
    if fid.kind == "epochs":
        saved = epochs_saved(epochs, fid.high)
        lines += [
            f"Epochs trained: {saved['epochs_trained']:g} for {saved['configurations']} "
            f"configurations; running each to {fid.high:g} epochs would take "
            f"{saved['epochs_full']:g}: **{saved['saved']:g} epochs saved "
            f"({100 * saved['saved_fraction']:.0f} %)**.",
            "",
        ]
    return "\n".join(lines)


def plot_rungs(sweep: Sweep, table: pd.DataFrame, path: Path | str) -> Path:
    """Objective against fidelity, one line per configuration across the rungs it reached."""
    from snakesweep.report.plots import _message, _objective_label, _pyplot, _save

    epochs = epochs_table(read_rounds(sweep.paths), table)
    metric, direction = sweep.objective.metric, sweep.objective.direction
    if epochs.empty or sweep.fidelity is None:
        return _message(path, "Rungs", "Not a multi-fidelity sweep.")
    objective = table.set_index("trial")["objective"] if len(table) else pd.Series(dtype=float)
    epochs["objective"] = pd.to_numeric(epochs["trial"].map(objective), errors="coerce")
    root = {}
    for row in epochs.itertuples():
        root[row.trial] = root.get(row.parent, row.trial) if pd.notna(row.parent) else row.trial
    epochs["lineage"] = epochs["trial"].map(root)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for _, group in epochs.groupby("lineage"):
        group = group.sort_values("fidelity")
        promoted = len(group) > 1
        ax.plot(
            group["fidelity"],
            group["objective"],
            marker="o",
            lw=1.2 if promoted else 0,
            alpha=0.9 if promoted else 0.35,
            color="C0" if promoted else "grey",
        )
    pruned = epochs[epochs["status"] == "pruned"]
    if len(pruned):
        ax.scatter(pruned["fidelity"], pruned["objective"], marker="x", color="C3", label="pruned")
        ax.legend()
    ax.set_xscale("log")
    levels = sorted(pd.to_numeric(epochs["fidelity"], errors="coerce").dropna().unique())
    ax.set_xticks(levels, [f"{v:g}" for v in levels])
    ax.minorticks_off()
    ax.set_xlabel(f"fidelity ({sweep.fidelity.kind})")
    ax.set_ylabel(_objective_label(metric, direction))
    ax.set_title("Rungs: each line is one configuration promoted across rungs")
    return _save(fig, path)
