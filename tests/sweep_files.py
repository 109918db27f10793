"""Hand-made result files in the contract's format, for unit tests of tracking and reports.

A deterministic toy objective of the parameters stands in for training, so the files look like a
real sweep's (metrics.json, history.csv, model.ckpt per trial; history/NNN.csv per round).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from snakesweep.history import append_round, read_trials, write_history

SPACE = {
    "lr": {"type": "float", "low": 1.0e-3, "high": 0.3, "log": True},
    "hidden_units": {"type": "int", "low": 8, "high": 64, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "activation": {"type": "categorical", "choices": ["relu", "tanh", "sigmoid"]},
    "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
    "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": ["sgd"]}},
    "batch_size": {"type": "categorical", "choices": [32, 64]},
    "max_epochs": 4,
}


def sweep_config(
    sweep: str = "fake",
    rounds: int = 3,
    per_round: int = 4,
    uri: str = "sqlite:///results/mlflow.db",
) -> dict:
    return {
        "sweep": sweep,
        "seed": 3,
        "objective": {"metric": "val/loss", "direction": "minimize"},
        "budget": {"rounds": rounds, "trials_per_round": per_round},
        "search": {"strategy": "bayes"},
        "space": SPACE,
        "data": {"name": "digits"},
        "model": {"name": "mlp"},
        "tracking": {"uri": uri},
    }


def _params(rng: np.random.Generator) -> dict:
    optimizer = str(rng.choice(["sgd", "adam"]))
    params = {
        "lr": float(10 ** rng.uniform(-3, math.log10(0.3))),
        "hidden_units": int(round(2 ** rng.uniform(3, 6))),
        "dropout": float(rng.uniform(0, 0.5)),
        "activation": str(rng.choice(["relu", "tanh", "sigmoid"])),
        "optimizer": optimizer,
        "batch_size": int(rng.choice([32, 64])),
        "max_epochs": 4,
    }
    if optimizer == "sgd":
        params["momentum"] = float(rng.uniform(0, 0.9))
    return params


def write_trial(
    sweep_dir: Path, trial: str, round_index: int, params: dict, status: str = "ok", epochs: int = 4
) -> dict:
    """One trial's metrics.json, history.csv and model.ckpt."""
    trial_dir = sweep_dir / "trials" / trial
    trial_dir.mkdir(parents=True, exist_ok=True)
    final = 0.2 + abs(math.log10(params["lr"]) + 1.5) * 0.4 + params["dropout"] * 0.3
    final += {"relu": 0.0, "tanh": 0.05, "sigmoid": 0.3}[params["activation"]]
    rows = []
    for epoch in range(epochs):
        decay = math.exp(-epoch)
        rows.append(
            {
                "epoch": epoch,
                "train/loss": final * 0.9 + decay,
                "val/loss": final + decay,
                "val/acc": 1 - (final + decay) / 3,
            }
        )
    history = pd.DataFrame(rows)
    record = {
        "trial": trial,
        "round": round_index,
        "seed": 100 + round_index,
        "params": params,
        "status": status,
        "error": None,
        "objective": None,
        "metrics": {},
        "duration_s": 1.5 + epochs * 0.25,
    }
    if status == "ok":
        history.to_csv(trial_dir / "history.csv", index=False)
        record["metrics"] = {
            "val/loss": rows[-1]["val/loss"],
            "val/acc": rows[-1]["val/acc"],
            "train/loss": rows[-1]["train/loss"],
            "epochs": epochs,
        }
        record["objective"] = rows[-1]["val/loss"]
        (trial_dir / "model.ckpt").write_bytes(b"checkpoint of " + trial.encode())
    else:
        history.head(2).to_csv(trial_dir / "history.csv", index=False)
        record["error"] = (
            "loss is nan at epoch 2"
            if status == "diverged"
            else ("RuntimeError: out of memory\nsecond line")
        )
    (trial_dir / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def write_sweep(
    root: Path,
    sweep: str = "fake",
    rounds: int = 3,
    per_round: int = 4,
    failed: tuple[str, ...] = ("r001-t002",),
    seed: int = 0,
) -> Path:
    """A finished sweep under root/results/<sweep>: trials, history/NNN.csv and trials.csv."""
    rng = np.random.default_rng(seed)
    sweep_dir = root / "results" / sweep
    table = None
    for round_index in range(rounds):
        paths = []
        for index in range(per_round):
            trial = f"r{round_index:03d}-t{index:03d}"
            status = ("diverged" if index % 2 else "failed") if trial in failed else "ok"
            write_trial(sweep_dir, trial, round_index, _params(rng), status)
            paths.append(sweep_dir / "trials" / trial / "metrics.json")
        table = append_round(table, read_trials(paths))
        write_history(table, sweep_dir / "history" / f"{round_index:03d}.csv")
    write_history(table, sweep_dir / "trials.csv")
    return sweep_dir


def write_table(sweep_dir: Path) -> Path:
    """trials.csv of the trials under sweep_dir/trials (as the aggregate rule writes it)."""
    path = sweep_dir / "trials.csv"
    write_history(read_trials(sorted((sweep_dir / "trials").glob("*/metrics.json"))), path)
    return path
