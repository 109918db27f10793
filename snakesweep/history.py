"""The ledger: finished trials as a pandas DataFrame, one row per trial.

Columns: `trial, round, seed, status, objective, duration_s, error`, then one column per
parameter, then one column per final metric (`stage/metric`). The workflow reads this table,
never MLflow.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from snakesweep.outputs import damaged_error, read_json, read_whole, write_csv

BASE_COLUMNS = ["trial", "round", "seed", "status", "objective", "duration_s", "error"]


def empty_history(param_names: Iterable[str] = ()) -> pd.DataFrame:
    return pd.DataFrame(columns=[*BASE_COLUMNS, *param_names])


def trial_row(record: dict) -> dict:
    """Flatten one metrics.json record into a table row."""
    row = {key: record.get(key) for key in BASE_COLUMNS}
    row.update(record.get("params", {}))
    row.update(record.get("metrics", {}))
    return row


def read_trials(metrics_paths: Iterable[Path | str]) -> pd.DataFrame:
    """One row per metrics.json, in trial order."""
    rows = [trial_row(read_json(path)) for path in metrics_paths]
    if not rows:
        return empty_history()
    table = pd.DataFrame(rows).sort_values("trial", ignore_index=True)
    table["objective"] = pd.to_numeric(table["objective"], errors="coerce").astype(float)
    return table


def append_round(previous: pd.DataFrame | None, round_rows: pd.DataFrame) -> pd.DataFrame:
    """The cumulative table after a round: earlier trials, then this round's, base columns first."""
    frames = [frame for frame in (previous, round_rows) if frame is not None and not frame.empty]
    if not frames:
        return previous if previous is not None else empty_history()
    table = pd.concat(frames, ignore_index=True).drop_duplicates("trial", keep="last")
    extra = [column for column in table.columns if column not in BASE_COLUMNS]
    params = [column for column in extra if "/" not in column]
    metrics = sorted(column for column in extra if "/" in column)
    ordered = table.reindex(columns=[*BASE_COLUMNS, *params, *metrics])
    return ordered.sort_values("trial", ignore_index=True)


def read_history(path: Path | str | None) -> pd.DataFrame:
    """The table in `path` (none: no trials yet). An empty or cut-off file is refused with one
    line naming it, never read as "no trials" (that would drop rounds from the sweep)."""
    if path is None:
        return empty_history()
    table = _parse(read_whole(path))
    if "trial" not in table.columns:
        raise damaged_error(Path(path), "not a trials table (no `trial` column)")
    return table


def _parse(text: str) -> pd.DataFrame:
    # Only an empty cell is missing: a categorical choice spelled "None", "NA" or "nan" stays
    # the string it was (pandas' default would turn it into NaN and lose the trial's params).
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


def history_after_round(
    previous: Path | str | None, metrics_paths: Iterable[Path | str]
) -> pd.DataFrame:
    """The table after a round (the previous table plus the round's trials) as its file holds
    it: written out and read back, so the next round's proposals, which build it themselves
    instead of waiting for the round's file, see exactly the table that the file records."""
    table = append_round(read_history(previous), read_trials(metrics_paths))
    return _parse(table.to_csv(index=False))


def write_history(table: pd.DataFrame, path: Path | str) -> None:
    write_csv(table, path)


def best_trial(table: pd.DataFrame, direction: str) -> pd.Series | None:
    """The finished trial with the best objective, or None when no trial succeeded."""
    done = table[(table["status"] == "ok") & table["objective"].notna()]
    if done.empty:
        return None
    index = done["objective"].idxmin() if direction == "minimize" else done["objective"].idxmax()
    return done.loc[index]


def run_time_s(table: pd.DataFrame) -> float:
    """The sweep's own run time, from its table: each round's longest trial (a round's trials
    run side by side), summed. Time between runs, in a queue or a copy of the folder don't
    count, so budget.max_time_s holds for a resumed or copied sweep."""
    if table.empty or "duration_s" not in table.columns:
        return 0.0
    durations = pd.to_numeric(table["duration_s"], errors="coerce").fillna(0.0)
    return float(durations.groupby(table["round"]).max().sum())


def round_summary(
    table: pd.DataFrame,
    round_index: int,
    rounds_total: int,
    direction: str,
    elapsed_s: float,
    eta_s: float | None = None,
) -> str:
    """The one console line printed when a round finishes: `round 3/8`, its trials ok, failed
    and pruned, the best so far with its trial, the time since this run started and the ETA."""
    from snakesweep.plan import duration

    this_round = table[table["round"] == round_index]
    ok = int((this_round["status"] == "ok").sum())
    pruned = int((this_round["status"] == "pruned").sum())
    failed = len(this_round) - ok - pruned
    best = best_trial(table, direction)
    best_text = f"{best['objective']:.4g} ({best['trial']})" if best is not None else "none yet"
    eta = "" if eta_s is None else f", ETA {duration(eta_s)}"
    return (
        f"[snakesweep] round {round_index + 1}/{rounds_total}: {ok} ok, {failed} failed, "
        f"{pruned} pruned, best so far {best_text}, elapsed {duration(elapsed_s)}{eta}"
    )
