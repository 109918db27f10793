"""What the `report` rule does: read the sweep's files, write every plot and summary.md."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from snakesweep.outputs import write_atomic
from snakesweep.paths import SweepPaths
from snakesweep.report import analysis, plots
from snakesweep.report.summary import markdown_table, markdown_to_html, summary_markdown
from snakesweep.sweep import Sweep

TOP_CURVES = 5


def read_histories(trials_dir: Path, trials: list[str]) -> dict[str, pd.DataFrame]:
    """Per-epoch history.csv of the given trials (missing or empty files are left out)."""
    histories = {}
    for trial in trials:
        path = trials_dir / trial / "history.csv"
        if path.exists() and path.stat().st_size > 0:
            frame = pd.read_csv(path)
            if not frame.empty:
                histories[trial] = frame
    return histories


def write_trial_curves(
    files: SweepPaths, round_index: int, table: pd.DataFrame, metric: str | None = None
) -> dict[str, Path]:
    """The learning curve of each trial of a round, small (logged with its MLflow run), in the
    round's folder of curves, with the objective `metric`'s panel; none for a trial of fewer
    than two epochs (e.g. a tabular one)."""
    files.trial_curves(round_index).mkdir(parents=True, exist_ok=True)
    trials = list(table.loc[table["round"] == round_index, "trial"])
    return {
        trial: plots.plot_learning_curves(
            {trial: history},
            files.trial_curve(trial),
            f"Learning curves of {trial}",
            dpi=60,
            small=True,
            metric=metric,
        )
        for trial, history in read_histories(files.trials_dir, trials).items()
        if len(history) >= 2
    }


def read_test_metrics(path: Path | None) -> dict | None:
    """test.json of the evaluation step (flat or under a `metrics` key), or None."""
    if path is None or not Path(path).exists():
        return None
    record = json.loads(Path(path).read_text())
    return record.get("metrics", record) if isinstance(record, dict) else None


def write_plots(table: pd.DataFrame, sweep: Sweep, out: dict[str, Path]) -> None:
    """Draw each plot named in `out` (keys from REPORT_PLOTS and the plot rules') from the
    trials table."""
    metric = sweep.objective.metric
    direction = sweep.objective.direction
    seed = sweep.seed
    dims = analysis.tuned_dims(sweep.config["space"], table)
    if "optimisation_history" in out:
        plots.plot_history(
            table,
            metric,
            direction,
            out["optimisation_history"],
            title=f"Optimisation history of sweep {sweep.name}",
        )
    if "parallel_coordinates" in out:
        plots.plot_parallel_coordinates(table, dims, metric, direction, out["parallel_coordinates"])
    if "importance" in out:
        plots.plot_importance(table, dims, metric, out["importance"], seed)
    if "partial_dependence" in out:
        plots.plot_partial_dependence(
            table, dims, metric, direction, out["partial_dependence"], seed
        )
    if "learning_curves" in out:
        top = list(analysis.ranked(table, direction)["trial"].head(TOP_CURVES))
        plots.plot_learning_curves(
            read_histories(sweep.paths.trials_dir, top),
            out["learning_curves"],
            title=f"Learning curves of the top {len(top)} trials",
            metric=metric,
        )
    if "sensitivity" in out:
        plots.plot_sensitivity(
            analysis.one_at_a_time(table, dims), dims, metric, out["sensitivity"]
        )


def write_summary(
    table: pd.DataFrame,
    sweep: Sweep,
    path: Path,
    test_json: Path | None = None,
    plot_paths: list[Path] | None = None,
    html_path: Path | None = None,
) -> None:
    """summary.md, and the same as an HTML page when `html_path` is given."""
    text = summary_markdown(
        table,
        sweep,
        read_test_metrics(test_json),
        sweep.paths.benchmarks_dir,
        [str(p) for p in plot_paths or []],
    )
    from snakesweep.report.fidelity import fidelity_markdown

    section = fidelity_markdown(sweep, table)
    if section:
        text = text.rstrip("\n") + "\n\n" + section
    write_atomic(path, text)
    if html_path is not None:
        Path(html_path).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(html_path, markdown_to_html(text, f"Sweep {sweep.name}"))


def trials_page(table: pd.DataFrame, sweep: str) -> str:
    """Every trial as an HTML table page (Snakemake's report shows HTML, not CSV)."""
    return markdown_to_html(f"# Trials of sweep `{sweep}`\n\n{markdown_table(table)}\n", sweep)
