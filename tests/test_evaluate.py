"""Cross-validation merging, and the test-set evaluation of the best trial and the ensemble."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_snakemake, sweep_for, write_config
from sweep_files import write_table

from snakesweep.train.cv import merge_histories, merge_records
from snakesweep.trial import run_trial

CONFIG = {
    "seed": 0,
    "data": {"name": "digits", "subset": 300},
    "model": {"name": "mlp"},
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "evaluate": {"refit": "checkpoint", "top_k": 2},
}


def fold_record(status, loss, acc):
    return {
        "trial": "r000-t000",
        "round": 0,
        "seed": 1,
        "params": {"lr": 0.1},
        "status": status,
        "error": None if status == "ok" else "boom",
        "objective": loss if status == "ok" else None,
        "metrics": {"val/loss": loss, "val/acc": acc, "epochs": 3} if status == "ok" else {},
        "duration_s": 2.0,
    }


def test_merge_records_mean_and_std():
    merged = merge_records([fold_record("ok", 1.0, 0.5), fold_record("ok", 3.0, 0.7)], "val/loss")
    assert merged["status"] == "ok"
    assert merged["objective"] == pytest.approx(2.0)
    assert merged["metrics"]["val/loss_std"] == pytest.approx(1.0)
    assert merged["metrics"]["val/acc"] == pytest.approx(0.6)
    assert merged["metrics"]["cv/folds"] == 2
    assert merged["duration_s"] == pytest.approx(4.0)


def test_merge_records_one_failed_fold_fails_the_trial():
    merged = merge_records([fold_record("ok", 1.0, 0.5), fold_record("failed", 0, 0)], "val/loss")
    assert merged["status"] == "failed" and merged["objective"] is None
    assert "fold 1: boom" in merged["error"]


def test_merge_histories_averages_epochs(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("epoch,val/loss\n0,1.0\n1,0.5\n")
    b.write_text("epoch,val/loss\n0,3.0\n")
    rows = merge_histories([a, b])
    assert rows == [{"epoch": 0, "val/loss": 2.0}, {"epoch": 1, "val/loss": 0.5}]


def test_folds_train_on_disjoint_validation_parts(tmp_path):
    sweep = sweep_for({**CONFIG, "evaluate": {"folds": 3}})
    proposal = {"trial": "r000-t000", "seed": 4, "params": {"max_epochs": 1, "lr": 0.01}}
    records = [run_trial(proposal, 0, sweep, tmp_path / f"fold{f}", fold=f) for f in range(3)]
    assert [r["status"] for r in records] == ["ok"] * 3
    losses = {r["metrics"]["val/loss"] for r in records}
    assert len(losses) == 3  # three different validation folds


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("sweep")
    for i, lr in enumerate([0.01, 0.003, 1e-5]):
        trial = f"r000-t{i:03d}"
        proposal = {
            "trial": trial,
            "seed": i,
            "params": {"max_epochs": 2, "lr": lr, "hidden_units": 16},
        }
        record = run_trial(proposal, 0, sweep_for(CONFIG), sweep_dir / "trials" / trial)
        assert record["status"] == "ok", record["error"]
    write_table(sweep_dir)
    return sweep_dir


def read_predictions(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    y = np.array([int(r["y_true"]) for r in rows])
    probs = np.array([[float(v) for k, v in r.items() if k.startswith("prob_")] for r in rows])
    return y, probs


def test_evaluate_best_matches_sklearn_on_saved_predictions(sweep):
    from sklearn import metrics as skm

    from snakesweep.train.evaluate import evaluate_best, ranked_trials

    result = evaluate_best(sweep_for(CONFIG), sweep / "trials.csv", sweep)
    assert result["trial"] == ranked_trials(sweep / "trials.csv", "minimize")[0]["trial"]
    saved = json.loads((sweep / "test.json").read_text())["metrics"]
    y, probs = read_predictions(sweep / "test_predictions.csv")
    pred = probs.argmax(1)
    assert saved["test/acc"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-9)
    assert saved["test/f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-9)
    assert saved["test/auroc"] == pytest.approx(
        skm.roc_auc_score(y, probs, multi_class="ovr"), abs=1e-6
    )
    with open(sweep / "confusion_matrix.csv") as fh:
        cm = np.array([[int(v) for v in row[1:]] for row in list(csv.reader(fh))[1:]])
    assert cm.sum() == len(y) and np.trace(cm) == int((pred == y).sum())
    assert not (sweep / "confusion_matrix.png").exists()  # the plot_confusion_matrix rule's
    assert "macro avg" in (sweep / "classification_report.csv").read_text()


def test_refit_on_train_and_validation(sweep, tmp_path):
    from snakesweep.train.evaluate import evaluate_best

    config = {**CONFIG, "evaluate": {"refit": "train_val"}}
    result = evaluate_best(sweep_for(config), sweep / "trials.csv", tmp_path)
    assert result["refit"] == "train_val"
    assert (tmp_path / "refit" / "model.ckpt").exists()
    assert 0.0 <= result["metrics"]["test/acc"] <= 1.0


def test_ensemble_averages_top_k(sweep, tmp_path):
    from snakesweep.train.evaluate import evaluate_ensemble, ranked_trials

    result = evaluate_ensemble(sweep_for(CONFIG), sweep / "trials.csv", tmp_path)
    ranked = ranked_trials(sweep / "trials.csv", "minimize")
    assert len(ranked) == 3
    assert [m["trial"] for m in result["members"]] == [r["trial"] for r in ranked[:2]]
    y, probs = read_predictions(tmp_path / "ensemble_predictions.csv")
    assert result["metrics"]["test/acc"] == pytest.approx(float((probs.argmax(1) == y).mean()))
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_regression_test_metrics_match_sklearn(tmp_path):
    from sklearn import metrics as skm

    from snakesweep.train.evaluate import (
        TestSet,
        evaluate_best,
        evaluate_ensemble,
        evaluation_outputs,
        load_model,
    )
    from snakesweep.train.module import RawInputModel

    sweep = sweep_for(
        {
            **CONFIG,
            "data": {"name": "diabetes"},
            "objective": {"metric": "val/mse", "direction": "minimize"},
        }
    )
    for i in range(2):
        proposal = {"trial": f"r000-t00{i}", "seed": i, "params": {"max_epochs": 2, "lr": 0.01}}
        record = run_trial(
            proposal, 0, sweep, tmp_path / "trials" / proposal["trial"], isolate=False
        )
        assert record["status"] == "ok", record["error"]
    result = evaluate_best(sweep, write_table(tmp_path), tmp_path)
    with open(tmp_path / "test_predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    y = np.array([float(r["y_true"]) for r in rows])
    pred = np.array([float(r["y_pred"]) for r in rows])
    assert result["metrics"]["test/mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert result["metrics"]["test/rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert result["metrics"]["test/r2"] == pytest.approx(skm.r2_score(y, pred))
    assert evaluation_outputs(sweep) == []  # no confusion matrix for regression
    assert "test/mae" in evaluate_ensemble(sweep, tmp_path / "trials.csv", tmp_path)["metrics"]
    # test/loss is on the scale of val/loss (the standardised target), not the mse in units
    split = TestSet(sweep, result["params"])
    assert result["metrics"]["test/loss"] == pytest.approx(
        result["metrics"]["test/mse"] / split.target_std**2
    )
    # the model as registered in MLflow: raw features in, predictions in target units out
    import torch

    model = RawInputModel(load_model(sweep, Path(result["checkpoint"])), split.x_mean, split.x_std)
    with torch.no_grad():
        raw_pred = model(torch.as_tensor(split.raw_inputs())).numpy()
    assert np.allclose(raw_pred, pred, rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_a_sweep_without_test_set_evaluation(tmp_path):
    """evaluate.test_set: false ends the sweep after the search: report and MLflow, no test."""
    import copy

    from conftest import TINY_SWEEP, run_snakemake, write_config

    config = copy.deepcopy(TINY_SWEEP)
    config["budget"] = {"rounds": 1, "trials_per_round": 2}
    config["space"]["max_epochs"] = 1
    config["evaluate"] = {"test_set": False}
    output = run_snakemake(tmp_path, write_config(tmp_path, config))
    sweep = tmp_path / "results" / "tiny"
    assert (sweep / "best.yaml").exists() and (sweep / "tracking" / "final.json").exists()
    assert "Test metrics: none (evaluate.test_set is false)" in (sweep / "summary.md").read_text()
    for name in ("test.json", "ensemble.json", "plots/confusion_matrix.png"):
        assert not (sweep / name).exists(), name
    assert "evaluate_best" not in output.stdout + output.stderr


@pytest.mark.slow
def test_lowering_rounds_evaluates_and_registers_only_the_tables_trials(tmp_path, tiny_config):
    """After budget.rounds is lowered, round 1's trial folders stay, but trials.csv no longer
    lists them: neither the best-trial test, the ensemble nor the registered model use them."""
    from mlflow.tracking import MlflowClient

    from snakesweep.history import read_history

    tiny_config["data"] = {"name": "digits", "subset": 300}
    tiny_config["evaluate"] = {"top_k": 3}
    run_snakemake(tmp_path, write_config(tmp_path, tiny_config))
    sweep = tmp_path / "results" / "tiny"
    assert len(read_history(sweep / "trials.csv")) == 4
    tiny_config["budget"]["rounds"] = 1
    run_snakemake(tmp_path, write_config(tmp_path, tiny_config))
    listed = set(read_history(sweep / "trials.csv")["trial"])
    assert listed == {"r000-t000", "r000-t001"} and (sweep / "trials" / "r001-t000").is_dir()
    test = json.loads((sweep / "test.json").read_text())
    members = [m["trial"] for m in json.loads((sweep / "ensemble.json").read_text())["members"]]
    assert test["trial"] in listed and set(members) == listed
    client = MlflowClient(f"sqlite:///{tmp_path}/results/mlflow.db")
    latest = max(client.search_model_versions(), key=lambda v: int(v.version))
    assert latest.tags["trial"] == test["trial"]


def test_ensemble_reports_the_k_it_used(sweep, tmp_path):
    """With top_k above the trials that finished ok, ensemble.json's k is the number of members
    averaged (3 here), and top_k what was asked; top_k 0 is no ensemble, not a failed sweep."""
    from snakesweep.train.evaluate import evaluate_ensemble

    config = {**CONFIG, "evaluate": {"refit": "checkpoint", "top_k": 10}}
    result = evaluate_ensemble(sweep_for(config), sweep / "trials.csv", tmp_path)
    saved = json.loads((tmp_path / "ensemble.json").read_text())
    assert saved["k"] == len(saved["members"]) == 3 and saved["top_k"] == 10
    assert result == saved
    none = {**CONFIG, "evaluate": {"refit": "checkpoint", "top_k": 0}}
    result = evaluate_ensemble(sweep_for(none), sweep / "trials.csv", tmp_path / "none")
    assert result["k"] == 0 and result["members"] == [] and "error" not in result
    assert "top_k is 0" in result["note"]


def test_macro_metrics_average_over_the_classes_present_as_validation_does(tmp_path):
    """A class of the data that the test part lacks and the model never predicts (a rare class
    whose few samples all went to training) does not count as a score of 0: test.json's macro
    precision, recall and F1 equal scikit-learn's default macro average and the validation
    metrics of the same outputs, and classification_report.csv's macro row says the same."""
    import torch
    from sklearn import metrics as skm

    from snakesweep.train.evaluate import test_metrics, write_classification_outputs
    from snakesweep.train.module import prediction_metrics

    y = np.array([0, 0, 0, 1, 1, 1])
    logits = np.array([[3, 0, 0], [3, 0, 0], [0, 3, 0], [0, 3, 0], [0, 3, 0], [3, 0, 0]], float)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    test = test_metrics(y, probs, "classification", 3)
    val = prediction_metrics(torch.tensor(logits), torch.tensor(y), "classification", 3)
    pred = probs.argmax(1)
    for name, score in [
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ]:
        expected = score(y, pred, average="macro")
        assert test[f"test/{name}"] == pytest.approx(expected)
        assert val[name] == pytest.approx(expected, abs=1e-6)
    assert test["test/f1"] == pytest.approx(2 / 3)  # not 4/9: class 2 is not in the test part
    write_classification_outputs(tmp_path, y, probs, ["a", "b", "c"])
    with open(tmp_path / "classification_report.csv") as fh:
        rows = {row["class"]: row for row in csv.DictReader(fh)}
    assert set(rows) == {"a", "b", "c", "macro avg", "weighted avg"}
    assert float(rows["macro avg"]["f1"]) == pytest.approx(test["test/f1"])


def test_predictions_name_the_classes_as_the_data_does(tmp_path):
    """A CSV whose target holds labels 1..3 (not 0..2) or names: test_predictions.csv holds the
    data's own labels, so a user compares them with the file, and scikit-learn's accuracy of
    those columns is test.json's."""
    from sklearn import metrics as skm

    from snakesweep.train.evaluate import evaluate_best

    rng = np.random.default_rng(0)
    x = rng.standard_normal((90, 2))
    label = 1 + np.argmax(np.c_[x, -x.sum(1)], axis=1)
    path = tmp_path / "data.csv"
    path.write_text(
        "a,b,label\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(x, label, strict=True))
    )
    data = {"name": "csv", "path": str(path), "target": "label", "task": "classification"}
    sweep = sweep_for({**CONFIG, "data": data})
    proposal = {"trial": "r000-t000", "seed": 0, "params": {"max_epochs": 2, "lr": 0.05}}
    record = run_trial(proposal, 0, sweep, tmp_path / "trials" / "r000-t000", isolate=False)
    assert record["status"] == "ok", record["error"]
    result = evaluate_best(sweep, write_table(tmp_path), tmp_path)
    with open(tmp_path / "test_predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    y_true, y_pred = [r["y_true"] for r in rows], [r["y_pred"] for r in rows]
    assert set(y_true) == {"1", "2", "3"} and set(y_pred) <= {"1", "2", "3"}
    # the stratified test part: a fifth of each class of the file
    assert {c: y_true.count(c) for c in set(y_true)} == {
        str(c): round(0.2 * int((label == c).sum())) for c in (1, 2, 3)
    }
    assert result["metrics"]["test/acc"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert list(rows[0])[2:] == ["prob_1", "prob_2", "prob_3"]


def test_auroc_is_defined_when_a_class_is_missing_from_the_part(tmp_path):
    """ROC-AUC is the mean one-vs-rest AUC over the classes in the labels, in validation and on
    the test set alike: with every class present it is scikit-learn's macro OvR AUC, and a part
    that lacks a rare class still has one (validation's used to be missing, so a sweep that
    optimised val/auroc failed every trial)."""
    import torch
    from sklearn import metrics as skm

    from snakesweep.train.evaluate import test_metrics
    from snakesweep.train.module import prediction_metrics

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(60, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    every = np.arange(60) % 4
    without_3 = np.arange(60) % 3
    for y in (every, without_3):
        expected = np.mean([skm.roc_auc_score(y == c, probs[:, c]) for c in np.unique(y)])
        val = prediction_metrics(torch.tensor(logits), torch.tensor(y), "classification", 4)
        assert val["auroc"] == pytest.approx(expected, abs=1e-6)
        assert test_metrics(y, probs, "classification", 4)["test/auroc"] == pytest.approx(expected)
    assert test_metrics(every, probs, "classification", 4)["test/auroc"] == pytest.approx(
        skm.roc_auc_score(every, probs, multi_class="ovr")
    )
    one_class = prediction_metrics(
        torch.tensor(logits), torch.zeros(60, dtype=torch.long), "classification", 4
    )
    assert "auroc" not in one_class
