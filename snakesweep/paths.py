"""Where a sweep's files live: every name under results/<sweep>/ and the trial-id scheme.

The rules' input functions (rules/common.smk), the scripts and the package ask a `SweepPaths`;
nothing else builds a path inside a sweep folder or slices a trial id. The rules' output
patterns ("results/{sweep}/trials/{trial}/metrics.json") name the same files:
tests/test_paths.py formats each of them and compares it with what SweepPaths says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESULTS = Path("results")
# Trial ids hold three digits for the round and the trial: r000-t000 to r999-t999.
MAX_IDS = 1000
# The plots the `report` rule draws (plots/<name>.png), always.
REPORT_PLOTS = (
    "optimisation_history",
    "parallel_coordinates",
    "importance",
    "learning_curves",
)


def trial_id(round_index: int, index: int) -> str:
    return f"r{round_index:03d}-t{index:03d}"


def round_of_trial(trial: str) -> int:
    """The round a trial id belongs to: `r002-t001` -> 2."""
    return int(trial[1:4])


def round_name(round_index: int) -> str:
    """A round's file name stem: 2 -> `002`."""
    return f"{round_index:03d}"


@dataclass(frozen=True)
class SweepPaths:
    """The files of one sweep, below `root` (results/<sweep>)."""

    root: Path

    @classmethod
    def of(cls, sweep: str, results: Path | str = RESULTS) -> SweepPaths:
        return cls(Path(results) / sweep)

    @classmethod
    def of_trial_dir(cls, trial_dir: Path | str) -> SweepPaths:
        """The sweep a trial folder (root/trials/<trial>) belongs to."""
        return cls(Path(trial_dir).parent.parent)

    # -- what defines the sweep and its rounds ---------------------------------------------

    @property
    def sweep_yaml(self) -> Path:
        return self.root / "sweep.yaml"

    @property
    def rounds_dir(self) -> Path:
        return self.root / "rounds"

    def rounds(self, round_index: int) -> Path:
        """Round r's proposals (checkpoint `propose`)."""
        return self.rounds_dir / f"{round_name(round_index)}.json"

    def proposals_of(self, trial: str) -> Path:
        """The rounds file that proposed a trial."""
        return self.rounds(round_of_trial(trial))

    @property
    def history_dir(self) -> Path:
        return self.root / "history"

    def history(self, round_index: int) -> Path:
        """The cumulative trials table after round r."""
        return self.history_dir / f"{round_name(round_index)}.csv"

    def curves(self, round_index: int) -> Path:
        """Pruning: the learning curves after round r."""
        return self.root / "curves" / f"{round_name(round_index)}.csv"

    # -- trials ----------------------------------------------------------------------------

    @property
    def trials_dir(self) -> Path:
        return self.root / "trials"

    def trial_dir(self, trial: str) -> Path:
        return self.trials_dir / trial

    def metrics(self, trial: str) -> Path:
        return self.trial_dir(trial) / "metrics.json"

    def trial_history(self, trial: str) -> Path:
        return self.trial_dir(trial) / "history.csv"

    def last_checkpoint(self, trial: str) -> Path:
        return self.trial_dir(trial) / "last.ckpt"

    def fold_dir(self, trial: str, fold: int | str) -> Path:
        return self.trial_dir(trial) / f"fold{fold}"

    def fold_metrics(self, trial: str) -> list[Path]:
        """The metrics.json of each fold of a trial, in fold order ([] without folds)."""
        return sorted(self.trial_dir(trial).glob("fold*/metrics.json"))

    @staticmethod
    def fold_of(fold_dir: Path) -> str:
        """The fold number of a fold folder: fold3 -> "3"."""
        return fold_dir.name.removeprefix("fold")

    # -- after the search ------------------------------------------------------------------

    @property
    def trials_csv(self) -> Path:
        return self.root / "trials.csv"

    @property
    def best_yaml(self) -> Path:
        return self.root / "best.yaml"

    @property
    def test_json(self) -> Path:
        return self.root / "test.json"

    @property
    def ensemble_json(self) -> Path:
        return self.root / "ensemble.json"

    def evaluation(self, name: str) -> Path:
        """A file of the test-set evaluation (train/evaluate.py names them)."""
        return self.root / name

    @property
    def summary_md(self) -> Path:
        return self.root / "summary.md"

    def report_page(self, name: str) -> Path:
        """A page of the HTML report: summary.html, trials.html."""
        return self.root / "report" / f"{name}.html"

    def plot(self, name: str) -> Path:
        return self.root / "plots" / f"{name}.png"

    def trial_curves(self, round_index: int) -> Path:
        """The folder of round r's per-trial learning curves (drawn by the `track` rule)."""
        return self.root / "plots" / "trials" / round_name(round_index)

    def trial_curve(self, trial: str) -> Path:
        return self.trial_curves(round_of_trial(trial)) / trial / "learning_curve.png"

    def tracking(self, round_index: int) -> Path:
        """The MLflow run ids of round r."""
        return self.root / "tracking" / f"{round_name(round_index)}.json"

    @property
    def tracking_final(self) -> Path:
        return self.root / "tracking" / "final.json"

    @property
    def provenance_dir(self) -> Path:
        return self.root / "provenance"

    @property
    def provenance_yaml(self) -> Path:
        return self.provenance_dir / "provenance.yaml"

    @property
    def verify_json(self) -> Path:
        return self.root / "verify.json"

    # -- how the sweep ran ------------------------------------------------------------------

    @property
    def benchmarks_dir(self) -> Path:
        return self.root / "benchmarks"

    def benchmarks_of(self, rule: str) -> Path:
        """The folder of a per-round or per-trial rule's benchmark files."""
        return self.benchmarks_dir / rule

    def benchmark(self, rule: str, *job: str) -> Path:
        """Snakemake's time and memory of a job: benchmarks/<rule>.tsv for a rule that runs
        once, benchmarks/<rule>/<wildcards...>.tsv otherwise (e.g. train/r000-t001.tsv)."""
        if not job:
            return self.benchmarks_dir / f"{rule}.tsv"
        return self.benchmarks_of(rule).joinpath(*job[:-1], f"{job[-1]}.tsv")

    @property
    def invocation_json(self) -> Path:
        """When the current run started, with which cores and GPUs (`plan`, `status`)."""
        return self.root / "invocation.json"

    @property
    def calibration_json(self) -> Path:
        """The calibration trial of `plan --calibrate`."""
        return self.root / "calibration.json"
