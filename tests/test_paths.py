"""The rules' file patterns name the files SweepPaths names; the trial-id scheme holds."""

from __future__ import annotations

import re
from pathlib import Path

from snakesweep.paths import MAX_IDS, REPORT_PLOTS, SweepPaths, round_of_trial, trial_id

REPO = Path(__file__).resolve().parent.parent
WILDCARDS = {"sweep": "demo", "round": "004", "trial": "r004-t002", "fold": "1"}
FILES = SweepPaths.of("demo")
TRIAL = WILDCARDS["trial"]

# (rule, name of the output or input) -> what SweepPaths says that file is
EXPECTED = {
    ("freeze_config", "output 0"): FILES.sweep_yaml,
    ("propose", "output 0"): FILES.rounds(4),
    ("record_round", "output 0"): FILES.history(4),
    ("record_curves", "output 0"): FILES.curves(4),
    ("train", "metrics"): FILES.metrics(TRIAL),
    ("train", "history"): FILES.trial_history(TRIAL),
    ("train", "last"): FILES.last_checkpoint(TRIAL),
    ("train_fold", "metrics"): FILES.fold_dir(TRIAL, 1) / "metrics.json",
    ("train_fold", "history"): FILES.fold_dir(TRIAL, 1) / "history.csv",
    ("merge_folds", "metrics"): FILES.metrics(TRIAL),
    ("merge_folds", "history"): FILES.trial_history(TRIAL),
    ("evaluate_best", "table"): FILES.trials_csv,
    ("evaluate_best", "test"): FILES.test_json,
    ("evaluate_best", "predictions"): FILES.evaluation("test_predictions.csv"),
    ("evaluate_ensemble", "table"): FILES.trials_csv,
    ("evaluate_ensemble", "ensemble"): FILES.ensemble_json,
    ("evaluate_ensemble", "predictions"): FILES.evaluation("ensemble_predictions.csv"),
    ("aggregate", "table"): FILES.trials_csv,
    ("aggregate", "best"): FILES.best_yaml,
    ("track", "runs"): FILES.tracking(4),
    ("track", "curves"): FILES.trial_curves(4),
    ("report", "summary"): FILES.summary_md,
    ("report", "summary_html"): FILES.report_page("summary"),
    ("report", "table"): FILES.report_page("trials"),
    **{("plot_search", name): FILES.plot(name) for name in REPORT_PLOTS},
    ("plot_confusion_matrix", "matrix"): FILES.evaluation("confusion_matrix.csv"),
    ("plot_confusion_matrix", "output 0"): FILES.plot("confusion_matrix"),
    ("plot_partial_dependence", "table"): FILES.trials_csv,
    ("plot_partial_dependence", "output 0"): FILES.plot("partial_dependence"),
    ("plot_sensitivity", "table"): FILES.trials_csv,
    ("plot_sensitivity", "output 0"): FILES.plot("sensitivity"),
    ("plot_rungs", "table"): FILES.trials_csv,
    ("plot_rungs", "output 0"): FILES.plot("rungs"),
    ("track_final", "output 0"): FILES.tracking_final,
    ("provenance", "summary"): FILES.provenance_yaml,
    ("provenance", "config"): FILES.provenance_dir / "config.yaml",
    ("provenance", "packages"): FILES.provenance_dir / "packages.txt",
    ("verify_sweep", "output 0"): FILES.verify_json,
    ("verify_sweep", "table"): FILES.trials_csv,
}

RULE = re.compile(r"^\s*(?:rule|checkpoint) (\w+):")
SECTION = re.compile(r"^(\s*)(input|output|benchmark):\s*$")
PATTERN = re.compile(r'^\s*(?:(\w+)=)?(?:\w+\()?"(results/\{sweep\}/[^"]*)"')
WRAPPED = re.compile(r"^\s*(\w+)=\w+\($")  # name=report(  with the pattern on the next line


def sweep_file_patterns() -> dict[tuple[str, str], str]:
    """Every literal results/{sweep}/... pattern in the input and output sections of the rules,
    by (rule, name); an unnamed one is `<section> <position>`."""
    found: dict[tuple[str, str], str] = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        rule, indent, section, position, wrapped = None, None, None, 0, None
        for line in smk.read_text().splitlines():
            if match := RULE.match(line):
                rule, section = match.group(1), None
                continue
            if match := SECTION.match(line):
                indent, section, position = len(match.group(1)), match.group(2), 0
                continue
            if section is None or not line.strip():
                continue
            if len(line) - len(line.lstrip()) <= indent:
                section = None
                continue
            if match := WRAPPED.match(line):
                wrapped = match.group(1)
            elif match := PATTERN.match(line):
                name = match.group(1) or wrapped or f"{section} {position}"
                wrapped = None
                found[(rule, name)] = match.group(2)
                position += 1
    return found


def test_every_rule_file_pattern_is_the_file_sweep_paths_names():
    patterns = {
        key: pattern
        for key, pattern in sweep_file_patterns().items()
        if not key[1].startswith("benchmark")
    }
    unknown = sorted(set(patterns) - set(EXPECTED))
    assert not unknown, f"add these rule files to SweepPaths and EXPECTED: {unknown}"
    assert sorted(patterns) == sorted(EXPECTED)
    for key, pattern in patterns.items():
        assert Path(pattern.format(**WILDCARDS)) == EXPECTED[key], key


def test_trial_ids_rounds_and_folders():
    assert trial_id(4, 2) == TRIAL and round_of_trial(TRIAL) == 4
    assert round_of_trial(trial_id(MAX_IDS - 1, MAX_IDS - 1)) == MAX_IDS - 1
    assert FILES.proposals_of(TRIAL) == FILES.rounds(4)
    assert FILES.trial_curve(TRIAL).parent.parent == FILES.trial_curves(4)
    assert SweepPaths.of_trial_dir(FILES.trial_dir(TRIAL)) == FILES


def test_every_benchmark_pattern_is_the_file_sweep_paths_names():
    """benchmarks/<rule>.tsv, or benchmarks/<rule>/<wildcards...>.tsv: what the plan reads."""
    patterns = {
        rule: pattern
        for (rule, name), pattern in sweep_file_patterns().items()
        if name.startswith("benchmark")
    }
    assert {"train", "propose", "aggregate", "train_fold"} <= set(patterns)
    for rule, pattern in patterns.items():
        job = [WILDCARDS[name] for name in re.findall(r"\{(\w+)\}", pattern)[1:]]
        assert Path(pattern.format(**WILDCARDS)) == FILES.benchmark(rule, *job), rule
