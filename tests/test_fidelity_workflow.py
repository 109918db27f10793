"""Multi-fidelity sweeps and pruning through real Snakemake and Lightning (tiny configs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SNAKEMAKE, run_snakemake, write_config

pytestmark = pytest.mark.slow

# One Hyperband bracket, eta 2, 1 -> 2 -> 4 epochs: 4 trials, then the best 2, then the best 1.
HYPERBAND = {
    "sweep": "hb",
    "seed": 4,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "budget": {"rounds": 3, "trials_per_round": 2},
    "search": {"strategy": "hyperband", "eta": 2, "min_fidelity": 1, "brackets": 1},
    "space": {
        "lr": {"type": "float", "low": 1.0e-3, "high": 0.2, "log": True},
        "hidden_units": {"type": "int", "low": 8, "high": 32, "log": True},
        "max_epochs": 4,
        "n_layers": 1,
        "batch_size": 64,
        "dropout": 0.1,  # random state must survive the resume
        "lr_scheduler": "cosine",  # so must the schedule, which spans all 4 epochs
    },
    "data": {"name": "digits", "subset": 500},
    "model": {"name": "mlp"},
}


def start_snakemake(workdir: Path, configfile: Path) -> subprocess.Popen:
    command = [
        SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(configfile), "--profile", str(REPO / "profiles" / "default"),
        "--cores", "2",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


@pytest.fixture(scope="module")
def hyperband(tmp_path_factory) -> tuple[Path, Path, dict[str, float]]:
    """A Hyperband sweep killed (SIGKILL, whole process group) while rung 1 trains, then
    resumed by running the same command again."""
    workdir = tmp_path_factory.mktemp("hyperband")
    configfile = write_config(workdir, HYPERBAND)
    sweep = workdir / "results" / "hb"
    process = start_snakemake(workdir, configfile)
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if list((workdir / "logs" / "train" / "hb").glob("r001-*.log")):
                break
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert (sweep / "rounds" / "001.json").exists(), "the sweep did not reach rung 1"
    rung0 = {t.name: (t / "metrics.json").stat().st_mtime for t in sweep.glob("trials/r000-*")}
    assert len(rung0) == 4
    run_snakemake(workdir, configfile)
    return workdir, configfile, rung0


def test_rungs_promote_the_best_and_resume(hyperband):
    workdir, _, _ = hyperband
    sweep = workdir / "results" / "hb"
    rounds = [json.loads((sweep / "rounds" / f"{i:03d}.json").read_text()) for i in range(3)]
    assert [len(r["trials"]) for r in rounds] == [4, 2, 1]
    assert [r["trials"][0]["fidelity"]["value"] for r in rounds] == [1, 2, 4]
    proposals = {t["trial"]: t for r in rounds for t in r["trials"]}
    table = pd.read_csv(sweep / "trials.csv").set_index("trial")
    assert set(table["status"]) == {"ok"}
    for index in (1, 2):
        earlier = table[table["round"] == index - 1].sort_values("objective")
        promoted = [t["fidelity"]["resume_from"] for t in rounds[index]["trials"]]
        assert promoted == list(earlier.index[: len(promoted)])
        for trial in rounds[index]["trials"]:
            parent = trial["fidelity"]["resume_from"]
            assert trial["params"] == proposals[parent]["params"]
            assert trial["seed"] == int(table.loc[parent, "seed"])
            child = pd.read_csv(sweep / "trials" / trial["trial"] / "history.csv")
            mother = pd.read_csv(sweep / "trials" / parent / "history.csv")
            # The epoch counter continues; the inherited epochs are the parent's own rows.
            assert list(child["epoch"]) == list(range(trial["fidelity"]["value"]))
            pd.testing.assert_frame_equal(child.iloc[: len(mother)], mother)
            record = json.loads((sweep / "trials" / trial["trial"] / "metrics.json").read_text())
            # Only the new epochs were trained here.
            assert record["metrics"]["start_epoch"] == len(mother)
            assert (sweep / "trials" / trial["trial"] / "model.ckpt").stat().st_size > 0
    # The report shows the rungs: a plot and a table with the epochs saved.
    assert (sweep / "plots" / "rungs.png").read_bytes().startswith(b"\x89PNG")
    summary = (sweep / "summary.md").read_text()
    assert "## Rungs and brackets" in summary and "epochs saved" in summary


def test_resumed_lineage_equals_an_uninterrupted_run(hyperband, tmp_path):
    """Metrics are continuous: 1 + 1 + 2 epochs across three trials (and a kill) give the
    same curve as 4 epochs in one go."""
    from snakesweep.sweep import load_sweep
    from snakesweep.train import fit_trial

    workdir, _, _ = hyperband
    sweep = workdir / "results" / "hb"
    final = json.loads((sweep / "rounds" / "002.json").read_text())["trials"][0]
    fit_trial(
        final["params"], load_sweep(dict(HYPERBAND), tmp_path), tmp_path / "straight", final["seed"]
    )
    straight = pd.read_csv(tmp_path / "straight" / "history.csv")
    resumed = pd.read_csv(sweep / "trials" / final["trial"] / "history.csv")
    pd.testing.assert_frame_equal(resumed, straight, rtol=1e-6)


def test_kill_mid_rung_retrains_nothing_finished(hyperband):
    workdir, configfile, rung0 = hyperband
    sweep = workdir / "results" / "hb"
    after = {t: (sweep / "trials" / t / "metrics.json").stat().st_mtime for t in rung0}
    assert after == rung0
    result = run_snakemake(workdir, configfile)
    assert "Nothing to be done" in result.stdout + result.stderr


PRUNED = {
    "sweep": "pruned",
    "seed": 2,
    "objective": {"metric": "val/loss", "direction": "minimize"},
    "budget": {"rounds": 2, "trials_per_round": 3},
    "search": {"strategy": "grid"},
    # Three sensible learning rates in round 0; round 1 is one hopeless one.
    "space": {
        "lr": {"type": "categorical", "choices": [0.05, 0.03, 0.02, 1.0e-7]},
        "max_epochs": 6,
        "n_layers": 1,
        "hidden_units": 16,
        "batch_size": 64,
    },
    "pruning": {"rule": "median", "warmup_epochs": 1, "min_trials": 3},
    "data": {"name": "digits", "subset": 500},
    "model": {"name": "mlp"},
}


def test_pruning_stops_a_clearly_bad_trial(tmp_path):
    configfile = write_config(tmp_path, PRUNED)
    result = run_snakemake(tmp_path, configfile)
    sweep = tmp_path / "results" / "pruned"
    bad = json.loads((sweep / "rounds" / "001.json").read_text())["trials"][0]
    assert bad["params"]["lr"] == pytest.approx(1.0e-7)
    assert set(bad["prune"]["thresholds"]) == {"1", "2", "3", "4", "5"}
    record = json.loads((sweep / "trials" / bad["trial"] / "metrics.json").read_text())
    assert record["status"] == "pruned" and record["objective"] is not None
    history = pd.read_csv(sweep / "trials" / bad["trial"] / "history.csv")
    assert list(history["epoch"]) == [0, 1]  # stopped at the first epoch it was judged
    table = pd.read_csv(sweep / "trials.csv").set_index("trial")
    assert table.loc[bad["trial"], "status"] == "pruned"
    assert (table["status"] == "ok").sum() == 3
    assert "1 pruned" in result.stdout + result.stderr
