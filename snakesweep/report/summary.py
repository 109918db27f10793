"""results/<sweep>/summary.md: what a person reads first after a sweep.

Best configuration, its validation (and, when the evaluation step ran, test) metrics, the top-10
table, where the time went and which trials failed and why, all from the result files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from snakesweep.report import analysis

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *rows])


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def job_times(benchmarks_dir: Path) -> pd.DataFrame:
    """Snakemake's benchmark files summed per rule: rule, jobs, seconds."""
    rows = []
    for path in sorted(benchmarks_dir.rglob("*.tsv")) if benchmarks_dir.exists() else []:
        rule = path.relative_to(benchmarks_dir).parts[0].removesuffix(".tsv")
        try:
            seconds = float(pd.read_csv(path, sep="\t")["s"].sum())
        except (KeyError, ValueError, pd.errors.EmptyDataError):
            continue
        rows.append({"rule": rule, "seconds": seconds})
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "seconds"])
    frame = pd.DataFrame(rows)
    return (
        frame.groupby("rule", as_index=False)
        .agg(jobs=("seconds", "size"), seconds=("seconds", "sum"))
        .sort_values("seconds", ascending=False, ignore_index=True)
    )


def top_table(table: pd.DataFrame, params: list[str], direction: str, n: int = 10) -> pd.DataFrame:
    ranked = analysis.ranked(table, direction).head(n)
    columns = ["trial", "round", "objective", *[p for p in params if p in ranked], "duration_s"]
    frame = ranked[columns].reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def no_test_reason(sweep: Sweep) -> str:
    """Why a summary has no test metrics."""
    if sweep.task == "tabular":
        return "none (a tabular sweep looks its metrics up in a table; nothing to test)"
    if not sweep.evaluate["test_set"]:
        return "none (evaluate.test_set is false)"
    return "not available (the evaluation step has not run)"


def one_at_a_time_tables(table: pd.DataFrame, dims: list, metric: str) -> list[str]:
    """Markdown lines: per parameter, the objective as that parameter alone varies from the
    baseline (the classic "accuracy vs learning rate" table)."""
    groups = analysis.one_at_a_time(table, dims)
    lines = ["## One parameter at a time", ""]
    if not groups:
        return lines + ["No parameter took two values with the others at the baseline.", ""]
    lines += ["Each table varies one parameter; every other parameter is at its baseline.", ""]
    for name, group in groups.items():
        group = group.assign(order=pd.to_numeric(group["value"], errors="coerce"))
        group = group.sort_values(["order", "trial"], na_position="last")
        shown = group[["value", "objective", "trial", "status"]].rename(
            columns={"value": name, "objective": metric}
        )
        lines += [f"### {name}", "", markdown_table(shown), ""]
    return lines


def summary_markdown(
    table: pd.DataFrame,
    sweep: Sweep,
    test_metrics: dict | None = None,
    benchmarks_dir: Path | None = None,
    plots: list[str] | None = None,
) -> str:
    """The whole summary.md text."""
    metric = sweep.objective.metric
    direction = sweep.objective.direction
    strategy = sweep.search.strategy
    space = sweep.config["space"]
    dims = analysis.tuned_dims(space, table)
    params = [d.name for d in dims]
    counts = table["status"].value_counts().to_dict() if not table.empty else {}
    rounds = int(table["round"].max()) + 1 if not table.empty else 0
    lines = [
        f"# Sweep `{sweep.name}`",
        "",
        f"- Objective: **{metric}** ({direction})",
        f"- Strategy: {strategy}, seed {sweep.seed}",
        f"- Trials: {len(table)} in {rounds} rounds — "
        + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())),
        "",
    ]
    ranked = analysis.ranked(table, direction)
    lines += ["## Best configuration", ""]
    if ranked.empty:
        lines += ["No trial finished, so there is no best configuration (see Failures).", ""]
    else:
        best = ranked.iloc[0]
        lines += [
            f"Trial `{best['trial']}` (round {int(best['round'])}): "
            f"{metric} = **{float(best['objective']):.4g}**",
            "",
        ]
        fixed = {k: v for k, v in space.items() if not isinstance(v, dict)}
        rows = [(name, best[name]) for name in params if name in best and pd.notna(best[name])]
        rows += [(name, f"{value} (fixed)") for name, value in fixed.items()]
        lines += [markdown_table(pd.DataFrame(rows, columns=["parameter", "value"])), ""]
        lines += ["## Metrics of the best configuration", ""]
        stages = {"val": "validation (search)", "train": "training (last epoch)"}
        metric_rows = [
            (stages[str(name).split("/")[0]], name, best[name])
            for name in best.index
            if str(name).split("/")[0] in stages and pd.notna(best[name])
        ]
        for name, value in sorted((test_metrics or {}).items()):
            if isinstance(value, int | float) and not isinstance(value, bool):
                metric_rows.append(("test (held out, once)", name, value))
        lines += [markdown_table(pd.DataFrame(metric_rows, columns=["set", "metric", "value"])), ""]
        if not test_metrics:
            lines += [f"Test metrics: {no_test_reason(sweep)}.", ""]
        lines += [
            f"## Top {min(10, len(ranked))} trials",
            "",
            markdown_table(top_table(table, params, direction)),
            "",
        ]
    if strategy == "one_at_a_time":
        lines += one_at_a_time_tables(table, dims, metric)
    durations = pd.to_numeric(table.get("duration_s", pd.Series(dtype=float)), errors="coerce")
    lines += [
        "## Time",
        "",
        f"- Training, summed over trials: {_duration(float(durations.sum()))} "
        f"(median {durations.median():.1f} s per trial, slowest "
        f"{durations.max():.1f} s)"
        if durations.notna().any()
        else "- Training: –",
    ]
    jobs = job_times(benchmarks_dir) if benchmarks_dir is not None else pd.DataFrame()
    if not jobs.empty:
        lines += [
            f"- All Snakemake jobs (benchmark files): {_duration(jobs['seconds'].sum())}",
            "",
            markdown_table(jobs),
        ]
    lines += [""]
    failed = table[table["status"] != "ok"] if not table.empty else table
    lines += ["## Failures", ""]
    if failed.empty:
        lines += ["None: every trial finished.", ""]
    else:
        reasons = failed[["trial", "status", "error"]].copy()
        reasons["error"] = reasons["error"].map(lambda e: _cell(e)[:300])
        lines += [
            f"{len(failed)} of {len(table)} trials did not finish; the optimiser saw them "
            "as penalised points.",
            "",
            markdown_table(reasons),
            "",
        ]
    if plots:
        lines += ["## Plots", "", *[f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots], ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Markdown inline code and bold of our own summary, as HTML."""
    import html
    import re

    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def markdown_to_html(markdown: str, title: str) -> str:
    """A standalone HTML page of summary.md (the subset it uses: headings, lists, tables,
    images, paragraphs), for Snakemake's report, which shows HTML but not markdown."""
    import re

    body: list[str] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("| "):
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                if not re.fullmatch(r"\|(---\|)+", lines[index]):
                    cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[index])[1:-1]]
                    rows.append([_inline(c.replace("\\|", "|")) for c in cells])
                index += 1
            head = "".join(f"<th>{cell}</th>" for cell in rows[0])
            rest = "".join(
                "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows[1:]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rest}</tbody></table>")
            continue
        elif line.startswith("- "):
            items = []
            while index < len(lines) and lines[index].startswith("- "):
                items.append(f"<li>{_inline(lines[index][2:])}</li>")
                index += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.startswith("!["):
            pass  # the plots are entries of the report themselves
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        index += 1
    style = (
        "body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 1em}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:0.9em}"
        "th{background:#f0f0f0}code{background:#f4f4f4;padding:0 3px}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_inline(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
