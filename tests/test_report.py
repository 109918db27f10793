"""Plots and summary.md from hand-made result files (real matplotlib, scikit-learn, pandas)."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest
from sweep_files import sweep_config, write_sweep

from snakesweep.history import read_history
from snakesweep.paths import REPORT_PLOTS, SweepPaths
from snakesweep.report import analysis, plots
from snakesweep.report.build import write_plots, write_summary
from snakesweep.sweep import load_sweep

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height of a valid PNG (asserts the signature and the IHDR chunk)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    sweep_dir = write_sweep(root, rounds=3, per_round=4, failed=("r001-t002", "r002-t001"))
    loaded = load_sweep(sweep_config(), root / "results")
    assert loaded.paths.root == sweep_dir
    return sweep_dir, read_history(sweep_dir / "trials.csv"), loaded


def test_every_plot_is_a_png(sweep):
    sweep_dir, table, loaded = sweep
    names = (*REPORT_PLOTS, "partial_dependence")
    out = {name: SweepPaths(sweep_dir).plot(name) for name in names}
    write_plots(table, loaded, out)
    for name, path in out.items():
        width, height = png_size(path)
        assert width > 300 and height > 150, name
        assert path.stat().st_size > 10_000, f"{name} looks empty"


def test_summary(sweep):
    sweep_dir, table, loaded = sweep
    (sweep_dir / "benchmarks" / "train").mkdir(parents=True)
    (sweep_dir / "benchmarks" / "train" / "r000-t000.tsv").write_text("s\th:m:s\n2.5\t0:00:02\n")
    test_json = sweep_dir / "test.json"
    test_json.write_text('{"test/acc": 0.91, "test/loss": 0.3}')
    path = sweep_dir / "summary.md"
    write_summary(table, loaded, path, test_json)
    text = path.read_text()
    best = analysis.ranked(table, "minimize").iloc[0]
    assert f"Trial `{best['trial']}`" in text
    assert f"{best['objective']:.4g}" in text
    assert "| test (held out, once) | test/acc | 0.91 |" in text
    top = text.split("## Top 10 trials")[1].split("## Time")[0]
    assert top.count("\n| ") == 11  # header + ten rows
    assert "RuntimeError: out of memory second line" in text
    assert "loss is nan" in text
    assert "2 of 12 trials did not finish" in text
    assert "| train | 1 | 2.5 |" in text


def test_summary_without_finished_trials(sweep):
    _, table, loaded = sweep
    broken = table.assign(status="failed", objective=np.nan)
    from snakesweep.report.summary import summary_markdown

    text = summary_markdown(broken, loaded)
    assert "No trial finished" in text and "12 of 12 trials did not finish" in text


def test_importance_finds_the_parameter_that_matters():
    rng = np.random.default_rng(0)
    n = 40
    table = pd.DataFrame(
        {
            "trial": [f"r000-t{i:03d}" for i in range(n)],
            "round": 0,
            "status": "ok",
            "lr": 10 ** rng.uniform(-4, -1, n),
            "dropout": rng.uniform(0, 0.5, n),
        }
    )
    table["objective"] = (np.log10(table["lr"]) + 2.5) ** 2 + rng.normal(0, 0.01, n)
    dims = analysis.tuned_dims(
        {
            "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
            "dropout": {"type": "float", "low": 0, "high": 0.5},
        }
    )
    scores = analysis.importance(table, dims)
    assert scores.index[0] == "lr" and scores["lr"] > 0.8
    curve = analysis.partial_dependence(table, dims)["lr"]
    # the surrogate's minimum sits near lr = 10**-2.5
    assert abs(np.log10(curve.loc[curve["objective"].idxmin(), "value"]) + 2.5) < 0.5


def test_one_at_a_time_groups(tmp_path):
    space = {
        "lr": {"type": "float", "low": 1e-3, "high": 1, "log": True},
        "activation": {"type": "categorical", "choices": ["relu", "tanh", "sigmoid"]},
    }
    rows = [("relu", 0.01), ("relu", 0.001), ("relu", 0.1), ("tanh", 0.01), ("sigmoid", 0.01)]
    table = pd.DataFrame(
        {
            "trial": [f"r000-t{i:03d}" for i in range(5)],
            "status": "ok",
            "activation": [a for a, _ in rows],
            "lr": [lr for _, lr in rows],
            "objective": [0.5, 0.7, 0.9, 0.6, 1.2],
        }
    )
    dims = analysis.tuned_dims(space)
    groups = analysis.one_at_a_time(table, dims)
    assert sorted(groups["lr"]["value"]) == [0.001, 0.01, 0.1]
    assert sorted(groups["activation"]["value"]) == ["relu", "sigmoid", "tanh"]
    path = plots.plot_sensitivity(groups, dims, "val/loss", tmp_path / "sensitivity.png")
    assert png_size(path)[0] > 600 and path.stat().st_size > 15_000


def test_values_lists_span_their_values_on_a_log_axis_past_a_decade():
    dims = analysis.tuned_dims(
        {"lr": {"type": "float", "values": [0.1, 0.001]}, "b": {"type": "int", "values": [32, 64]}}
    )
    assert [(d.name, d.low, d.high, d.log) for d in dims] == [
        ("lr", 0.001, 0.1, True),
        ("b", 32, 64, False),
    ]


def test_summary_has_a_table_per_parameter_for_one_at_a_time(tmp_path):
    from snakesweep.report.summary import summary_markdown

    space = {
        "lr": {"type": "float", "low": 1e-3, "high": 1, "log": True, "grid": 3},
        "batch_size": {"type": "int", "values": [16, 32, 64]},
        "max_epochs": 5,
    }
    rows = [(0.01, 32, 0.5), (0.1, 32, 0.9), (0.001, 32, 0.7), (0.01, 16, 0.4), (0.01, 64, 0.6)]
    table = pd.DataFrame(
        {
            "trial": [f"r000-t{i:03d}" for i in range(5)],
            "round": 0,
            "status": "ok",
            "lr": [lr for lr, _, _ in rows],
            "batch_size": [b for _, b, _ in rows],
            "objective": [y for _, _, y in rows],
            "duration_s": 1.0,
            "error": "",
        }
    )
    config = {
        "sweep": "oat",
        "seed": 0,
        "objective": {"metric": "val/loss", "direction": "minimize"},
        "search": {"strategy": "one_at_a_time"},
        "space": space,
        "data": {"name": "digits"},
    }
    text = summary_markdown(table, load_sweep(config, tmp_path))
    section = text.split("## One parameter at a time")[1].split("\n## ")[0]
    lr_part = section.split("### lr")[1].split("### batch_size")[0]
    lr_rows = [line for line in lr_part.splitlines() if line.startswith("| 0")]
    assert [line.split("|")[1].strip() for line in lr_rows] == ["0.001", "0.01", "0.1"]
    assert "0.7" in lr_rows[0] and "r000-t002" in lr_rows[0]
    batch_part = section.split("### batch_size")[1]
    assert [line.split("|")[1].strip() for line in batch_part.splitlines()[4:7]] == [
        "16",
        "32",
        "64",
    ]
    config["search"] = {"strategy": "bayes"}
    config["space"] = {**space, "lr": {"type": "float", "low": 1e-3, "high": 1, "log": True}}
    assert "One parameter at a time" not in summary_markdown(table, load_sweep(config, tmp_path))


def test_plots_explain_missing_data(tmp_path):
    config = sweep_config()
    empty = pd.DataFrame(columns=["trial", "round", "status", "objective"])
    dims = analysis.tuned_dims(config["space"])
    path = plots.plot_importance(empty, dims, "val/loss", tmp_path / "importance.png")
    assert png_size(path)[0] > 100
    path = plots.plot_learning_curves({}, tmp_path / "curves.png")
    assert png_size(path)[0] > 100


def test_learning_curves_show_the_objective(tmp_path):
    """Beside the loss, the curves show the objective when it is a validation metric (val/f1 of
    an imbalanced data set, not its flattering val/acc); else the first validation metric."""
    columns = {"epoch", "train/loss", "val/loss", "val/acc", "val/f1", "lr"}
    loss = ("loss", ["train/loss", "val/loss"])
    assert plots.curve_panels(columns, "val/f1") == [loss, ("val/f1", ["val/f1"])]
    assert plots.curve_panels(columns, "val/loss") == [loss, ("val/acc", ["val/acc"])]
    assert plots.curve_panels(columns, "train/loss") == [loss, ("val/acc", ["val/acc"])]
    assert plots.curve_panels({"epoch", "train/loss"}, "val/f1") == [loss]


@pytest.mark.parametrize(
    "names",
    [
        [str(i) for i in range(10)],
        ["golden retriever", "labrador retriever", "german shepherd", "husky", "poodle"],
    ],
)
def test_confusion_matrix_class_names_do_not_overlap(names):
    """Short class names stand upright side by side; long ones (which would run into each other
    upright) are slanted, and neighbouring slanted lines are further apart than a line is
    high."""
    import math

    matrix = pd.DataFrame(np.eye(len(names), dtype=int) * 9, index=names, columns=names)
    fig = plots.confusion_figure(matrix, "Confusion matrix")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = fig.axes[0].get_xticklabels()
    assert [label.get_text() for label in labels] == names
    centres = [label.get_window_extent().x1 for label in labels]
    spacing = min(b - a for a, b in zip(centres, centres[1:], strict=False))
    widths, heights = zip(
        *[
            renderer.get_text_width_height_descent(name, label.get_fontproperties(), False)[:2]
            for name, label in zip(names, labels, strict=True)
        ],
        strict=True,
    )
    angle = math.radians(labels[0].get_rotation())
    if angle == 0:
        assert max(widths) < spacing  # upright: each name narrower than its column
    else:
        assert max(widths) > spacing  # upright they would overlap
        assert max(heights) < spacing * math.sin(angle)  # slanted lines stay apart
    plots._pyplot().close(fig)


def test_confusion_matrix_png(tmp_path):
    labels = [str(i) for i in range(10)]
    matrix = pd.DataFrame(np.eye(10, dtype=int) * 30 + 1, index=labels, columns=labels)
    path = plots.plot_confusion_matrix(matrix, tmp_path / "confusion.png")
    width, height = png_size(path)
    assert width > 400 and height > 400


def test_summary_as_html_page(sweep, tmp_path):
    from snakesweep.report.build import trials_page

    _, table, loaded = sweep
    write_summary(table, loaded, tmp_path / "s.md", html_path=tmp_path / "s.html")
    page = (tmp_path / "s.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h2>Top 10 trials</h2>" in page
    assert page.count("<table>") >= 4  # best params, metrics, top 10, (job times), failures
    assert "RuntimeError: out of memory second line" in page
    trials = trials_page(table, "fake")
    assert trials.count("<tr>") == len(table) + 1
