"""Which of a sweep folder's records an earlier snakesweep made (snakesweep/records.py)."""

from pathlib import Path

from snakesweep.paths import SweepPaths
from snakesweep.records import outdated_records


def folder(tmp_path: Path, rounds: int) -> SweepPaths:
    files = SweepPaths(tmp_path / "results" / "s")
    for index in range(rounds):
        files.rounds(index).parent.mkdir(parents=True, exist_ok=True)
        files.rounds(index).write_text("{}")
    files.trials_csv.write_text("trial\n")
    files.best_yaml.write_text("{}\n")
    return files


def metrics(files: SweepPaths, round_index: int) -> list[str]:
    return [str(files.metrics(f"r{round_index:03d}-t{index:03d}")) for index in range(2)]


def now_recorded(files: SweepPaths, rounds: int) -> dict[Path, list[str]]:
    """What this snakesweep records: round r from history/r-2.csv and round r-1's metrics; the
    final table from history/R-2.csv and every metrics.json."""
    records = {}
    for index in range(1, rounds):
        older = [str(files.history(index - 2))] if index > 1 else []
        records[files.rounds(index)] = older + metrics(files, index - 1)
    every = [name for index in range(rounds) for name in metrics(files, index)]
    older = [str(files.history(rounds - 2))] if rounds > 1 else []
    records[files.trials_csv] = records[files.best_yaml] = older + every
    return records


def earlier_recorded(files: SweepPaths, rounds: int) -> dict[Path, list[str]]:
    """What an earlier snakesweep recorded: each from the previous round's table."""
    records = {files.rounds(index): [str(files.history(index - 1))] for index in range(1, rounds)}
    every = [name for index in range(rounds) for name in metrics(files, index)]
    records[files.trials_csv] = records[files.best_yaml] = [str(files.history(rounds - 1)), *every]
    return records


def test_an_earlier_snakesweeps_proposals_and_final_table_are_found(tmp_path):
    files = folder(tmp_path, 3)
    found = outdated_records(files, 3, earlier_recorded(files, 3).get)
    assert found == [files.rounds(1), files.rounds(2), files.trials_csv, files.best_yaml]


def test_an_earlier_final_table_of_other_rounds_keeps_its_record(tmp_path):
    """budget.rounds changed since: the final table must be made again, as Snakemake will."""
    files = folder(tmp_path, 3)
    assert outdated_records(files, 2, earlier_recorded(files, 3).get) == [files.rounds(1)]
    assert outdated_records(files, 4, earlier_recorded(files, 3).get) == [
        files.rounds(1),
        files.rounds(2),
    ]


def test_this_snakesweeps_records_are_kept_whatever_the_rounds_became(tmp_path):
    """Records made now are never taken for earlier ones: not with the same budget, nor after
    budget.rounds was lowered or raised (the final table must then be made again)."""
    for made_with in (1, 2, 3):
        files = folder(tmp_path / str(made_with), made_with)
        recorded = now_recorded(files, made_with).get
        for rounds in (1, 2, 3, 4):
            assert outdated_records(files, rounds, recorded) == []


def test_a_folder_without_records_has_none_outdated(tmp_path):
    files = folder(tmp_path, 2)
    assert outdated_records(files, 2, lambda path: None) == []
