"""The sweep's plots as PNG files (matplotlib, Agg backend): titled, axes labelled.

Each `plot_*` function takes plain tables, writes one PNG and returns its path. When the data
can't support a plot (e.g. fewer than three finished trials for a surrogate), the PNG still
appears and says why, so the report never has a hole and the workflow never fails on it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from snakesweep.report import analysis
from snakesweep.report.analysis import Dim

DPI = 110
FAILED_COLOUR = "#d62728"
BEST_COLOUR = "#d62728"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path | str, dpi: int = DPI, laid_out: bool = False) -> Path:
    """Write the figure as PNG; a figure `laid_out` by tight_layout is not measured again
    (a second full draw, ~20 % of a small plot's time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches=None if laid_out else "tight")
    _pyplot().close(fig)
    return path


def warm_up() -> None:
    """Draw a small learning-curve figure and forget it: a process's first drawing finds and
    loads matplotlib's fonts (~0.3 s of a round's curves). The warm worker does it once, so the
    jobs it forks find them loaded."""
    history = pd.DataFrame(
        {"epoch": [0, 1], "train/loss": [1.0, 0.5], "val/loss": [1.0, 0.6], "val/acc": [0.5, 0.7]}
    )
    with tempfile.TemporaryDirectory() as folder:
        plot_learning_curves({"trial": history}, Path(folder, "curves.png"), dpi=60, small=True)


def _message(path: Path | str, title: str, text: str) -> Path:
    """A PNG that explains why the plot is empty."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11)
    ax.set_axis_off()
    return _save(fig, path)


def _objective_label(metric: str, direction: str) -> str:
    better = "lower" if direction == "minimize" else "higher"
    return f"objective: {metric} ({better} is better)"


def plot_history(
    table: pd.DataFrame, metric: str, direction: str, path: Path | str, title: str = ""
) -> Path:
    """Objective of every trial in run order, coloured by round, with the best-so-far line;
    failed and diverged trials marked on the top edge."""
    plt = _pyplot()
    table = table.sort_values("trial", ignore_index=True)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.set_title(title or "Optimisation history")
    ax.set_xlabel("trial (in proposal order)")
    ax.set_ylabel(_objective_label(metric, direction))
    if table.empty:
        plt.close(fig)
        return _message(path, title or "Optimisation history", "no trials yet")
    x = np.arange(len(table))
    objective = pd.to_numeric(table["objective"], errors="coerce")
    ok = (table["status"] == "ok") & objective.notna()
    rounds = table["round"].astype(int)
    n_rounds = int(rounds.max()) + 1
    scatter = ax.scatter(
        x[ok],
        objective[ok],
        c=rounds[ok],
        s=40,
        zorder=3,
        cmap=_pyplot().get_cmap("viridis", n_rounds),
        vmin=-0.5,
        vmax=n_rounds - 0.5,
    )
    if ok.any():
        best = analysis.best_so_far(objective.where(ok), direction).ffill()
        ax.step(x, best, where="post", color="black", linewidth=1.5, label="best so far")
        colourbar = fig.colorbar(scatter, ax=ax, ticks=sorted(rounds.unique()))
        colourbar.set_label("round")
    if (~ok).any():
        top = (
            objective[ok].max()
            if direction == "minimize" and ok.any()
            else (objective[ok].min() if ok.any() else 1.0)
        )
        ax.scatter(
            x[~ok],
            [top] * int((~ok).sum()),
            marker="x",
            color=FAILED_COLOUR,
            s=60,
            zorder=4,
            label=f"failed / diverged ({int((~ok).sum())})",
        )
    ax.set_xticks(x)
    ax.set_xticklabels(table["trial"], rotation=90, fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return _save(fig, path)


def plot_parallel_coordinates(
    table: pd.DataFrame, dims: list[Dim], metric: str, direction: str, path: Path | str
) -> Path:
    """One vertical axis per tuned parameter (its range mapped to 0..1) plus the objective; one
    line per finished trial coloured by objective, the best trial drawn thick."""
    title = "Parallel coordinates of the finished trials"
    done = analysis.ranked(table, direction)
    if done.empty or not dims:
        return _message(path, title, "no finished trials to draw")
    plt = _pyplot()
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    objective = done["objective"].to_numpy(dtype=float)
    low, high = float(objective.min()), float(objective.max())
    columns = [
        dim.unit(done[dim.name]) if dim.name in done else np.full(len(done), np.nan) for dim in dims
    ]
    columns.append((objective - low) / (high - low) if high > low else objective * 0 + 0.5)
    data = np.column_stack(columns)
    norm = Normalize(low, high)
    cmap = colormaps["viridis_r" if direction == "minimize" else "viridis"]
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * (len(dims) + 1)), 5))
    x = np.arange(len(dims) + 1)
    for row in range(len(done) - 1, -1, -1):  # the best trial last, on top
        best = row == 0
        ax.plot(
            x,
            data[row],
            color=BEST_COLOUR if best else cmap(norm(objective[row])),
            linewidth=3 if best else 1.2,
            alpha=1 if best else 0.8,
            zorder=3 if best else 2,
            marker="o",
            markersize=3,
            label=f"best: {done['trial'].iloc[0]}" if best else None,
        )
    for position, dim in enumerate(dims):
        ax.axvline(position, color="grey", linewidth=0.8)
        if dim.kind == "categorical":
            for level, choice in enumerate(dim.choices):
                y = level / max(len(dim.choices) - 1, 1)
                ax.text(
                    position + 0.04,
                    y,
                    choice,
                    ha="left",
                    va="center",
                    fontsize=7,
                    bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1},
                )
            continue
        ax.text(position, -0.06, _range_text(dim, low=True), ha="center", va="top", fontsize=7)
        ax.text(position, 1.04, _range_text(dim, low=False), ha="center", va="bottom", fontsize=7)
    ax.axvline(len(dims), color="grey", linewidth=0.8)
    ax.text(len(dims), -0.06, f"{low:.3g}", ha="center", va="top", fontsize=7)
    ax.text(len(dims), 1.04, f"{high:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([_axis_name(dim) for dim in dims] + [metric], rotation=20, ha="right")
    ax.set_ylim(-0.15, 1.15)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("position in the parameter's range (0 = low, 1 = high)")
    ax.set_title(title + " (missing point = parameter inactive)")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax).set_label(metric)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8)
    return _save(fig, path)


def _log_ticks(ax, low: float, high: float) -> None:
    """A few plain-number ticks on a log x axis (matplotlib's 2x10^1 labels collide)."""
    from matplotlib.ticker import NullFormatter

    ticks = np.geomspace(low, high, 4)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:.2g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _axis_name(dim: Dim) -> str:
    return f"{dim.name} (log)" if dim.log else dim.name


def _range_text(dim: Dim, low: bool) -> str:
    if dim.kind == "categorical":
        return dim.choices[0] if low else dim.choices[-1]
    value = dim.low if low else dim.high
    return f"{value:.3g}"


def plot_importance(
    table: pd.DataFrame, dims: list[Dim], metric: str, path: Path | str, seed: int = 0
) -> Path:
    """Random-forest importance of each tuned parameter for the objective."""
    title = "Parameter importance"
    scores = analysis.importance(table, dims, seed)
    if scores is None:
        return _message(path, title, "needs at least 3 finished trials and a tuned parameter")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(scores) + 1.5))
    ordered = scores.sort_values()
    ax.barh(ordered.index, ordered.to_numpy(), color="#1f77b4")
    for y, value in enumerate(ordered.to_numpy()):
        ax.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    ax.set_xlabel("importance (share of the random forest's impurity decrease, sums to 1)")
    ax.set_ylabel("parameter")
    n = len(analysis.finished(table))
    ax.set_title(f"{title} for {metric} (random forest on {n} finished trials)")
    ax.set_xlim(0, max(1e-9, float(ordered.max())) * 1.2)
    return _save(fig, path)


def plot_partial_dependence(
    table: pd.DataFrame,
    dims: list[Dim],
    metric: str,
    direction: str,
    path: Path | str,
    seed: int = 0,
) -> Path:
    """Partial dependence of the objective on each parameter under a random-forest surrogate,
    with the observed trials as dots."""
    title = "Partial dependence of the objective"
    curves = analysis.partial_dependence(table, dims, seed)
    if curves is None:
        return _message(path, title, "needs at least 3 finished trials and a tuned parameter")
    plt = _pyplot()
    columns = min(3, len(dims))
    rows = int(np.ceil(len(dims) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False, sharey=True
    )
    done = analysis.finished(table)
    observed = pd.to_numeric(done["objective"]).to_numpy(dtype=float)
    for ax, dim in zip(axes.flat, dims, strict=False):
        curve = curves[dim.name]
        x_observed = dim.encode(done[dim.name]) if dim.name in done else np.full(len(done), np.nan)
        if dim.kind == "categorical":
            ax.scatter(
                curve["encoded"],
                curve["objective"],
                marker="D",
                s=60,
                color="#1f77b4",
                zorder=4,
                label="surrogate",
            )
            ax.set_xticks(curve["encoded"])
            ax.set_xticklabels(dim.choices, rotation=30, ha="right")
            ax.set_xlim(-0.5, len(dim.choices) - 0.5)
        else:
            x_curve = curve["value"].to_numpy(dtype=float)
            ax.plot(x_curve, curve["objective"], color="#1f77b4", label="surrogate")
            x_observed = 10**x_observed if dim.log else x_observed
            if dim.log:
                ax.set_xscale("log")
                _log_ticks(ax, dim.low, dim.high)
        ax.scatter(x_observed, observed, s=14, color="black", alpha=0.6, zorder=3, label="trials")
        ax.set_xlabel(_axis_name(dim))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.yaxis.set_tick_params(labelleft=True)
    for ax in list(axes.flat)[len(dims) :]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{title} ({metric}, random-forest surrogate, {len(done)} finished trials)")
    fig.tight_layout()
    return _save(fig, path, laid_out=True)


def curve_panels(columns: set[str], metric: str | None = None) -> list[tuple[str, list[str]]]:
    """The panels of a learning-curve plot, (label, columns) each: the loss, and the sweep's
    objective `metric` when it is another validation metric (val/f1 of an imbalanced data set,
    whose val/acc would look good), else the first other validation metric logged."""
    extra = sorted(c for c in columns if c.startswith("val/") and c != "val/loss")
    if metric in extra:
        extra = [metric]
    return [("loss", ["train/loss", "val/loss"])] + ([(extra[0], [extra[0]])] if extra else [])


def plot_learning_curves(
    histories: dict[str, pd.DataFrame],
    path: Path | str,
    title: str = "",
    dpi: int = DPI,
    small: bool = False,
    metric: str | None = None,
) -> Path:
    """Per-epoch loss (train solid, validation dashed) and a validation metric (curve_panels:
    the objective `metric`, if one) of the given trials (e.g. the top five), one colour per
    trial. `small` is a trial's own curve,
    drawn every round while trials train: fixed margins instead of tight_layout (which
    measures every label first), at most five ticks an axis and no legend (the title says which
    line is which): about 0.065 s a trial instead of 0.10 s."""
    title = title or "Learning curves"
    histories = {k: v for k, v in histories.items() if not v.empty and "epoch" in v}
    if not histories:
        return _message(path, title, "no per-epoch history recorded")
    plt = _pyplot()
    panels = curve_panels(set().union(*(frame.columns for frame in histories.values())), metric)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, names) in zip(axes.flat, panels, strict=True):
        for index, (trial, frame) in enumerate(histories.items()):
            for name in names:
                if name in frame and frame[name].notna().any():
                    style = "--" if name.startswith("val/") and label == "loss" else "-"
                    ax.plot(
                        frame["epoch"],
                        frame[name],
                        style,
                        color=colours[index % 10],
                        marker="o",
                        markersize=3,
                        label=f"{trial} {name}",
                    )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(
            f"{label} per epoch" + (" (train solid, validation dashed)" if label == "loss" else "")
        )
        ax.grid(alpha=0.3)
        if small:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(4))
        elif ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    if small:
        width, height = fig.get_size_inches()
        fig.subplots_adjust(
            left=0.9 / width, right=1 - 0.2 / width, bottom=0.55 / height, top=1 - 0.7 / height,
            wspace=1.1 / (width / len(panels)),
        )  # fmt: skip
    else:
        fig.tight_layout()
    return _save(fig, path, dpi, laid_out=True)


def plot_confusion_matrix(matrix: pd.DataFrame, path: Path | str, title: str = "") -> Path:
    """Counts of true (rows) vs predicted (columns) classes, annotated."""
    title = title or "Confusion matrix of the best model (test set)"
    if matrix.empty:
        return _message(path, title, "no trial finished, so no model was tested")
    return _save(confusion_figure(matrix, title), path)


def confusion_figure(matrix: pd.DataFrame, title: str):
    """The confusion matrix's figure: a cell per pair of classes, its count written in it; class
    names longer than 3 characters (`golden retriever`) slanted under the columns, so that
    neighbours do not overwrite each other."""
    plt = _pyplot()
    values = matrix.to_numpy(dtype=float)
    size = max(4.5, 0.5 * len(matrix) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(values, cmap="Blues")
    fig.colorbar(image, ax=ax).set_label("test samples")
    ax.set_xticks(range(values.shape[1]))
    long_names = max(len(str(c)) for c in matrix.columns) > 3
    ax.set_xticklabels(
        [str(c) for c in matrix.columns],
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
        rotation_mode="anchor",
    )
    ax.set_yticks(range(values.shape[0]))
    ax.set_yticklabels([str(i) for i in matrix.index])
    threshold = values.max() / 2 if values.size else 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(
                j,
                i,
                f"{values[i, j]:.0f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if values[i, j] > threshold else "black",
            )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(values) / values.sum() if values.sum() else float("nan")
    ax.set_title(f"{title}\naccuracy {accuracy:.3f}")
    return fig


def plot_sensitivity(
    groups: dict[str, pd.DataFrame], dims: list[Dim], metric: str, path: Path | str
) -> Path:
    """One-at-a-time sensitivity: the objective as each parameter varies alone from the
    baseline, one panel per parameter."""
    title = "One-at-a-time sensitivity"
    if not groups:
        return _message(path, title, "no parameter was varied alone from a baseline")
    plt = _pyplot()
    by_name = {dim.name: dim for dim in dims}
    names = list(groups)
    columns = min(3, len(names))
    rows = int(np.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        dim = by_name.get(name)
        group = groups[name]
        ok = group["status"] == "ok"
        if dim is not None and dim.kind != "categorical":
            group = group.assign(x=pd.to_numeric(group["value"])).sort_values("x")
            ok = group["status"] == "ok"
            ax.plot(group.loc[ok, "x"], group.loc[ok, "objective"], "o-", color="#1f77b4")
            if dim.log:
                ax.set_xscale("log")
                _log_ticks(ax, float(group["x"].min()), float(group["x"].max()))
        else:
            labels = [analysis._text(v) for v in group["value"]]
            ax.plot(
                range(len(group)),
                group["objective"].where(ok, np.nan),
                "o",
                markersize=8,
                color="#1f77b4",
            )
            ax.set_xticks(range(len(group)))
            ax.set_xlim(-0.5, len(group) - 0.5)
            ax.set_xticklabels(labels, rotation=30, ha="right")
        failed = int((~ok).sum())
        ax.set_title(name + (f" ({failed} failed)" if failed else ""))
        ax.set_xlabel(_axis_name(dim) if dim else name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_axis_off()
    fig.suptitle(f"{title} of {metric} (others at the baseline)")
    fig.tight_layout()
    return _save(fig, path, laid_out=True)
