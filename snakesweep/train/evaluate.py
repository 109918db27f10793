"""After the search: the best configuration on the held-out test set, and a top-k ensemble.

The test part of the split is read only here. Metrics come from scikit-learn, computed from
saved predictions, so anyone can recompute them from test_predictions.csv.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from snakesweep.outputs import read_json, write_json
from snakesweep.paths import SweepPaths

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep


# --- which trials -------------------------------------------------------------------------
def ranked_trials(table_path: Path, direction: str) -> list[dict[str, Any]]:
    """The ok trials of the sweep's table (trials.csv), best objective first, as their records
    (trials/<trial>/metrics.json). Only the table says which trials the sweep holds: a trial
    folder it does not list (e.g. of a round dropped by lowering budget.rounds) is ignored."""
    from snakesweep.history import read_history

    table = read_history(table_path)
    files = SweepPaths(Path(table_path).parent)  # trials.csv is the sweep's own
    objective = pd.to_numeric(table["objective"], errors="coerce")
    ok = table[(table["status"] == "ok") & np.isfinite(objective)]
    records = []
    for trial in ok["trial"]:
        trial_dir = files.trial_dir(str(trial))
        record = read_json(files.metrics(str(trial)))
        record["dir"] = str(trial_dir)
        records.append(record)
    sign = 1.0 if direction == "minimize" else -1.0
    return sorted(records, key=lambda r: (sign * float(r["objective"]), r["trial"]))


def checkpoints_of(record: dict[str, Any]) -> list[Path]:
    """A trial's checkpoint(s): model.ckpt, or one per fold under cross-validation."""
    trial_dir = Path(record["dir"])
    if (trial_dir / "model.ckpt").exists():
        return [trial_dir / "model.ckpt"]
    return sorted(trial_dir.glob("fold*/model.ckpt"))


# --- metrics ------------------------------------------------------------------------------
def test_metrics(
    y_true: np.ndarray,
    output: np.ndarray,
    task: str,
    n_classes: int,
    target_std: float = 1.0,
    prefix: str = "test/",
) -> dict[str, float]:
    """classification: acc, macro precision/recall/f1, roc_auc, loss (log loss), from class
    probabilities; regression: mse, rmse, mae, r2 from predictions, and loss on the scale the model
    trains and validates on (the mse of the target standardised by `target_std`).

    Macro averages are over the classes in the test labels or the predictions (scikit-learn's
    default, and what the validation metrics average over): a class that is neither in the
    test part nor predicted would otherwise count as a score of 0. ROC-AUC is the mean one-vs-rest
    AUC over the classes in the test labels, as validation's."""
    from sklearn import metrics as skm

    if task == "classification":
        pred = output.argmax(axis=1)
        labels = list(range(n_classes))
        out = {
            "acc": skm.accuracy_score(y_true, pred),
            "precision": skm.precision_score(y_true, pred, average="macro", zero_division=0),
            "recall": skm.recall_score(y_true, pred, average="macro", zero_division=0),
            "f1": skm.f1_score(y_true, pred, average="macro", zero_division=0),
            "loss": skm.log_loss(y_true, np.clip(output, 1e-12, 1.0), labels=labels),
        }
        present = np.unique(y_true)
        if len(present) >= 2:
            out["auroc"] = np.mean([skm.roc_auc_score(y_true == c, output[:, c]) for c in present])
    else:
        out = {
            "mse": skm.mean_squared_error(y_true, output),
            "rmse": skm.root_mean_squared_error(y_true, output),
            "mae": skm.mean_absolute_error(y_true, output),
            "r2": skm.r2_score(y_true, output),
        }
        out["loss"] = out["mse"] / target_std**2
    return {prefix + k: float(v) for k, v in out.items()}


# --- models -------------------------------------------------------------------------------
def load_model(sweep: Sweep, ckpt: Path) -> Any:
    import torch

    from snakesweep.train.fit import import_class
    from snakesweep.train.module import SweepModule

    mcfg = sweep.model
    cls = (
        import_class(mcfg["class_path"], "model.class_path")
        if mcfg.get("class_path")
        else SweepModule
    )
    model = cls.load_from_checkpoint(ckpt, map_location="cpu", weights_only=False)
    model.eval()
    torch.set_grad_enabled(False)
    return model


def predict(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    """Class probabilities or predictions (target units) for `x`, in batches: a model's
    `predict_output` of its forward's output, else the softmax of the logits (classification)
    or the output itself (regression)."""
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, len(x), 4096):
            out = model(torch.as_tensor(x[i : i + 4096]))
            if hasattr(model, "predict_output"):
                out = model.predict_output(out)
            elif not isinstance(out, torch.Tensor):
                raise TypeError(
                    f"model.class_path: {type(model).__name__}.forward returns a "
                    f"{type(out).__name__}, not a tensor; the test set needs its logits "
                    "(classification) or predictions (regression): return them from forward, or "
                    "define predict_output(output) to give class probabilities or predictions"
                )
            elif task == "classification":
                out = out.softmax(-1)
            else:
                out = out.squeeze(-1)
            # float32 at least: predictions in target units (float64) keep their digits.
            outs.append(out.to(torch.promote_types(out.dtype, torch.float32)).cpu().numpy())
    return np.concatenate(outs)


# --- outputs ------------------------------------------------------------------------------
def write_predictions(
    path: Path, y: np.ndarray, output: np.ndarray, task: str, class_names: list[str]
) -> None:
    """One row per test sample: the true and predicted class as the data names them (`cat`,
    or the label `3` of a target of labels 1..K) and the probability of each class; or the
    true and predicted value of a regression target, in its units."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        if task == "classification":
            writer.writerow(["y_true", "y_pred", *[f"prob_{c}" for c in class_names]])
            for yi, p in zip(y, output, strict=True):
                true, predicted = class_names[int(yi)], class_names[int(p.argmax())]
                writer.writerow([true, predicted, *[repr(float(v)) for v in p]])
        else:
            writer.writerow(["y_true", "y_pred"])
            for yi, p in zip(y, output, strict=True):
                writer.writerow([repr(float(yi)), repr(float(p))])


def write_classification_outputs(
    out_dir: Path, y: np.ndarray, output: np.ndarray, class_names: list[str]
) -> None:
    """confusion_matrix.csv and classification_report.csv (a row per class, every class of
    the data; the macro average over the classes in the test labels or the predictions, as
    test.json's)."""
    from sklearn.metrics import (
        classification_report,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    labels = list(range(len(class_names)))
    pred = output.argmax(axis=1)
    cm = confusion_matrix(y, pred, labels=labels)
    matrix = pd.DataFrame(cm, index=class_names, columns=class_names)
    report = classification_report(
        y, pred, labels=labels, target_names=class_names, output_dict=True, zero_division=0
    )
    macro = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    report["macro avg"].update(zip(("precision", "recall", "f1-score"), macro[:3], strict=True))
    rows = []
    for name in [*class_names, "macro avg", "weighted avg"]:
        r = report[name]
        rows.append([name, r["precision"], r["recall"], r["f1-score"], int(r["support"])])
    _write_classification_files(out_dir, matrix, rows)


def _write_classification_files(out_dir: Path, matrix: pd.DataFrame, report_rows: list) -> None:
    """confusion_matrix.csv and classification_report.csv from a matrix and report rows (the
    `plot_confusion_matrix` rule draws plots/confusion_matrix.png from the csv)."""
    matrix.rename_axis("true\\pred").to_csv(out_dir / "confusion_matrix.csv")
    with open(out_dir / "classification_report.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["class", "precision", "recall", "f1", "support"])
        writer.writerows(report_rows)


def _write_without_a_trial(predictions: Path, classification_dir: Path | None = None) -> None:
    """The declared outputs of a sweep in which no trial finished: predictions with a header
    only and, given `classification_dir`, the classification files saying why."""
    with open(predictions, "w", newline="") as fh:
        csv.writer(fh).writerow(["y_true", "y_pred"])
    if classification_dir is not None:
        _write_classification_files(classification_dir, pd.DataFrame(), [])


# --- the test set ---------------------------------------------------------------------------
class TestSet:
    """The held-out test part: arrays, task and class names (built-in data or a DataModule)."""

    def __init__(self, sweep: Sweep, params: dict[str, Any]) -> None:
        dcfg = sweep.data
        if dcfg.get("class_path"):
            self._from_datamodule(dcfg, params)
            return
        from snakesweep.train.data import make_split

        split = make_split(sweep)
        self.x, self.y, self.task = split.x_test, split.y_test, split.task
        self.class_names, self.n_classes = split.class_names, split.n_classes
        self.target_std = split.target_std
        self.x_mean, self.x_std = split.x_mean, split.x_std

    def _from_datamodule(self, dcfg: Mapping[str, Any], params: dict[str, Any]) -> None:
        import torch

        from snakesweep.train.fit import import_class, init_kwargs

        cls = import_class(dcfg["class_path"], "data.class_path")
        dm = cls(**init_kwargs(cls, dcfg.get("init_args"), params))
        dm.prepare_data()
        dm.setup("test")
        xs, ys = [], []
        for batch in dm.test_dataloader():
            xs.append(torch.as_tensor(batch[0]))
            ys.append(torch.as_tensor(batch[1]))
        self.x = torch.cat(xs).numpy()
        self.y = torch.cat(ys).numpy()
        self.task = dcfg["task"]
        self.target_std, self.x_mean, self.x_std = 1.0, None, None  # the DataModule's own scale
        self.n_classes = int(self.y.max()) + 1 if self.task == "classification" else 0
        self.class_names = [str(c) for c in range(self.n_classes)]

    def raw_inputs(self) -> np.ndarray:
        """The test inputs as the data holds them (before standardisation)."""
        if self.x_mean is None:
            return self.x
        return (self.x * self.x_std + self.x_mean).astype(np.float32)

    def fit_classes(self, output: np.ndarray) -> None:
        """A user's DataModule may not show every class in its test part: trust the model."""
        if self.task == "classification" and output.shape[1] > self.n_classes:
            self.n_classes = int(output.shape[1])
            self.class_names = [str(c) for c in range(self.n_classes)]


# --- the two evaluations ------------------------------------------------------------------
def evaluate_best(sweep: Sweep, table_path: Path, out_dir: Path) -> dict[str, Any]:
    """Refit (or reuse the checkpoint of) the best trial of the sweep's table (trials.csv) and
    evaluate it once on the test set.

    Writes test.json, test_predictions.csv and, for classification, confusion_matrix.csv and
    classification_report.csv into `out_dir`.
    """
    from snakesweep.train.fit import fit

    ranked = ranked_trials(table_path, sweep.objective.direction)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not ranked:
        result = {"trial": None, "error": "no trial finished ok"}
        write_json(out_dir / "test.json", result)
        classified = "confusion_matrix.csv" in evaluation_outputs(sweep)
        _write_without_a_trial(out_dir / "test_predictions.csv", out_dir if classified else None)
        return result
    best = ranked[0]
    split = TestSet(sweep, best["params"])
    mode = sweep.evaluate["refit"]
    ckpts = checkpoints_of(best)
    user_data = bool(sweep.data.get("class_path"))
    if user_data and ckpts:
        mode = "checkpoint"  # a user's DataModule has no train+validation union to refit on
    if mode == "train_val" or len(ckpts) != 1:
        # Refit on train+validation for the number of epochs the best trial needed.
        epochs = int(round(float(best["metrics"].get("best_epoch", 0)))) + 1
        params = {**best["params"], "max_epochs": epochs, "early_stopping_patience": 0}
        refit_dir = out_dir / "refit"
        fit(params, sweep, refit_dir, int(best["seed"]), refit=True)
        ckpt, mode = refit_dir / "model.ckpt", "train_val"
    else:
        ckpt = ckpts[0]
    model = load_model(sweep, ckpt)
    output = predict(model, split.x, split.task)
    split.fit_classes(output)
    write_predictions(
        out_dir / "test_predictions.csv", split.y, output, split.task, split.class_names
    )
    if split.task == "classification":
        write_classification_outputs(out_dir, split.y, output, split.class_names)
    result = {
        "trial": best["trial"],
        "objective": best["objective"],
        "params": best["params"],
        "refit": mode,
        "checkpoint": str(ckpt),
        "n_test": int(len(split.y)),
        "metrics": test_metrics(split.y, output, split.task, split.n_classes, split.target_std),
    }
    write_json(out_dir / "test.json", result)
    return result


def evaluate_ensemble(sweep: Sweep, table_path: Path, out_dir: Path) -> dict[str, Any]:
    """Average the probabilities (or predictions) of the top-k trials of the sweep's table
    (trials.csv) on the test set. `k` is the number of members averaged: fewer than
    `evaluate.top_k` (kept as `top_k`) when fewer trials finished ok."""
    top_k = int(sweep.evaluate["top_k"])
    members = ranked_trials(table_path, sweep.objective.direction)[:top_k]
    out_dir.mkdir(parents=True, exist_ok=True)
    if not members:
        result: dict[str, Any] = {"k": 0, "top_k": top_k, "members": []}
        if top_k == 0:
            result["note"] = "evaluate.top_k is 0: no ensemble"
        else:
            result["error"] = "no trial finished ok"
        write_json(out_dir / "ensemble.json", result)
        _write_without_a_trial(out_dir / "ensemble_predictions.csv")
        return result
    split = TestSet(sweep, members[0]["params"])
    outputs, member_info = [], []
    for record in members:
        member_out = [
            predict(load_model(sweep, c), split.x, split.task) for c in checkpoints_of(record)
        ]
        if not member_out:
            raise FileNotFoundError(f"trial {record['trial']} has no checkpoint")
        mean = np.mean(member_out, axis=0)
        split.fit_classes(mean)
        outputs.append(mean)
        member_info.append(
            {
                "trial": record["trial"],
                "objective": record["objective"],
                "metrics": test_metrics(
                    split.y, mean, split.task, split.n_classes, split.target_std
                ),
            }
        )
    output = np.mean(outputs, axis=0)
    write_predictions(
        out_dir / "ensemble_predictions.csv", split.y, output, split.task, split.class_names
    )
    result = {
        "k": len(members),
        "top_k": top_k,
        "members": member_info,
        "n_test": int(len(split.y)),
        "metrics": test_metrics(split.y, output, split.task, split.n_classes, split.target_std),
    }
    write_json(out_dir / "ensemble.json", result)
    return result


def evaluation_outputs(sweep: Sweep) -> list[str]:
    """The files evaluate_best writes besides test.json (depends on the task; no torch)."""
    from snakesweep.train.data import task_of

    if task_of(sweep.data) == "classification":
        return ["confusion_matrix.csv", "classification_report.csv"]
    return []
