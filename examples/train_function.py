"""Your own training loop as a sweep's trial (`train.function: examples.train_function:train`).

snakesweep calls `train(params, trial_dir, seed)` once per trial, with the trial's parameters
from the search space, a folder for its files, and its seed (the random generators of Python,
NumPy and torch are already seeded with it). It returns the metrics; the objective is one of
them. A `history` list (one dict per epoch) becomes the trial's history.csv and learning curve.
"""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def train(params: dict, trial_dir: Path, seed: int) -> dict:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.2, random_state=0, stratify=y
    )
    x_train, x_val = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_val))
    y_train, y_val = (torch.tensor(a) for a in (y_train, y_val))
    model = torch.nn.Sequential(
        torch.nn.Linear(64, params["hidden_units"]),
        torch.nn.ReLU(),
        torch.nn.Linear(params["hidden_units"], 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    history = []
    for _ in range(params["epochs"]):
        model.train()
        order = torch.randperm(len(x_train))
        for start in range(0, len(order), params["batch_size"]):
            batch = order[start : start + params["batch_size"]]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            history.append(
                {
                    "train/loss": float(loss),
                    "val/loss": float(loss_fn(logits, y_val)),
                    "val/acc": float((logits.argmax(1) == y_val).float().mean()),
                }
            )
    best = min(history, key=lambda row: row["val/loss"])
    return {**best, "history": history}
