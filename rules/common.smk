# All Python of the workflow: config validation, paths and the input functions of the rules.
import copy
import os
import re
import sys
import time
from pathlib import Path

# When this run started: the round line's elapsed time counts from here.
RUN_STARTED = time.time()

# Jobs import the snakesweep package that sits next to this workflow.
sys.path.insert(0, workflow.basedir)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [workflow.basedir, os.getenv("PYTHONPATH")])
    )
)

from snakesweep.config import load_config
from snakesweep.configfile import check_config_file
from snakesweep.errors import ConfigError
from snakesweep.train.evaluate import evaluation_outputs
from snakesweep.fidelity import fidelity_of
from snakesweep.outputs import read_json
from snakesweep.pruning import pruning_of
from snakesweep.seeds import round_of_trial
from snakesweep.strategies import search_files
from snakesweep import worker as warm_worker

# A sweep given with --configfile stands alone: it replaces the default sweep instead of being
# merged into it (a merge would add the default's parameters to the user's search space).
if workflow.overwrite_configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))

try:
    # Snakemake has read the config files already: a key given twice there was silently lost,
    # and a file asking for YTE templating has run its code (refused all the same).
    for configfile_path in workflow.overwrite_configfiles or workflow.configfiles:
        check_config_file(configfile_path)
    config.update(load_config(config))
except ConfigError as error:
    sys.exit(f"snakesweep: config error: {error}")

# A run's console shows the sweep's own lines (the plan, a line per round, the results) and
# errors; Snakemake's job blocks go only to its log file, .snakemake/log/ (snakesweep/console.py).
# A dry run (-n) still lists its jobs.
QUIET_CONSOLE = not (
    workflow.output_settings.dryrun or os.environ.get("SNAKESWEEP_VERBOSE")
)
if workflow.is_main_process and QUIET_CONSOLE:
    from snakesweep.console import quiet_console

    quiet_console()

# A run killed with SIGKILL leaves Snakemake's locks behind; remove them when their owner is
# provably gone, so that resuming is running the same command again (snakesweep/locks.py).
# A trial whose training finished just before the kill is kept, not retrained.
LOCK_CLAIM = None
if workflow.is_main_process:
    from snakesweep.locks import claim, hold_locks, recover_finished_trials

    kept_trials = recover_finished_trials()
    if kept_trials:
        print(
            f"[snakesweep] kept {len(kept_trials)} trials that finished before the run was "
            f"killed: {', '.join(kept_trials)}",
            file=sys.stderr,
        )
    LOCK_CLAIM = claim()
    if LOCK_CLAIM.note:
        print(LOCK_CLAIM.note, file=sys.stderr)
    # An empty or cut-off table read as "no trials" would drop rounds: stop, naming the file.
    from snakesweep.outputs import check_outputs

    try:
        check_outputs(Path("results", config["sweep"]))
    except ConfigError as error:
        sys.exit(f"snakesweep: {error}")

SWEEP = config["sweep"]
ROUNDS = config["budget"]["rounds"]
# Training helper: k-fold cross-validation (one job per fold) and the test-set evaluation.
FOLDS = (config.get("evaluate") or {}).get("folds") or 0
# A GPU trial takes one of the --resources gpu_slots=<GPUs x train.trials_per_gpu> slots.
TRIAL_GPU_SLOTS = int((config.get("train") or {}).get("accelerator") in ("gpu", "cuda"))
EVALUATION_EXTRAS = [f"results/{{sweep}}/{name}" for name in evaluation_outputs(config)]
# The best configuration and the ensemble are tested after the search, unless switched off;
# a tabular sweep looks its metrics up in a table: there is no model to test.
# A user's training function (train.function) leaves no model file to test either.
EVALUATED = (
    config["task"] == "train"
    and config["evaluate"]["test_set"]
    and not config["train"].get("function")
)
# Multi-fidelity search (promoted trials resume from a parent's checkpoint) and pruning
# (proposals carry thresholds from the learning curves of earlier rounds).
MULTI_FIDELITY = fidelity_of(config) is not None
PRUNING = pruning_of(config) is not None


# Only this sweep's files are ever built: an earlier sweep's results (a warm-start table, a
# replay list) are read as plain files, never remade by this run.
wildcard_constraints:
    sweep=re.escape(SWEEP),
    round=r"\d{3}",
    trial=r"r\d{3}-t\d{3}",


def record_held_locks():
    """At onstart, once Snakemake holds its locks: note which are this run's."""
    if LOCK_CLAIM is not None:
        hold_locks(LOCK_CLAIM)


def round_name(index):
    return f"{index:03d}"


def sweep_path(wildcards, *parts):
    return os.path.join("results", wildcards.sweep, *parts)


def trial_ids(sweep, round_index):
    """The trials proposed in one round (read after its propose checkpoint has run)."""
    rounds_file = checkpoints.propose.get(
        sweep=sweep, round=round_name(round_index)
    ).output[0]
    return [proposal["trial"] for proposal in read_json(rounds_file)["trials"]]


def all_trial_metrics(sweep):
    """Every trial's metrics.json. A final target must name them: Snakemake does not rebuild a
    missing file that only feeds jobs whose outputs exist, so a deleted trial would stay gone.
    """
    return [
        f"results/{sweep}/trials/{trial}/metrics.json"
        for index in range(ROUNDS)
        for trial in trial_ids(sweep, index)
    ]


def get_propose_inputs(wildcards):
    """Round r's proposals read the history after round r-1 (ancient: kept proposals stay kept)."""
    inputs = {
        "sweep": ancient(sweep_path(wildcards, "sweep.yaml")),
        # Warm-start tables and a replay list: read, but a newer copy re-proposes nothing.
        "search_files": [ancient(path) for path in search_files(config["search"])],
    }
    index = int(wildcards.round)
    if index > 0:
        inputs["history"] = ancient(
            sweep_path(wildcards, "history", f"{round_name(index - 1)}.csv")
        )
        if PRUNING:
            inputs["curves"] = ancient(
                sweep_path(wildcards, "curves", f"{round_name(index - 1)}.csv")
            )
    return inputs


def get_record_inputs(wildcards):
    """A round's history table: the previous table plus this round's trial metrics."""
    index = int(wildcards.round)
    inputs = {
        "sweep": ancient(sweep_path(wildcards, "sweep.yaml")),
        "trials": [
            sweep_path(wildcards, "trials", trial, "metrics.json")
            for trial in trial_ids(wildcards.sweep, index)
        ],
    }
    if index > 0:
        inputs["previous"] = sweep_path(
            wildcards, "history", f"{round_name(index - 1)}.csv"
        )
    return inputs


def get_trial_proposals(wildcards):
    return sweep_path(
        wildcards, "rounds", f"{round_name(round_of_trial(wildcards.trial))}.json"
    )


def get_train_inputs(wildcards):
    """A trial's proposal; a promoted trial (multi-fidelity) also its parent's checkpoint and
    history, which it continues."""
    inputs = {"proposals": get_trial_proposals(wildcards)}
    if MULTI_FIDELITY:
        rounds_file = checkpoints.propose.get(
            sweep=wildcards.sweep, round=round_name(round_of_trial(wildcards.trial))
        ).output[0]
        for proposal in read_json(rounds_file)["trials"]:
            parent = (proposal.get("fidelity") or {}).get("resume_from")
            if proposal["trial"] == wildcards.trial and parent:
                inputs["resume"] = sweep_path(wildcards, "trials", parent, "last.ckpt")
                inputs["parent_history"] = sweep_path(
                    wildcards, "trials", parent, "history.csv"
                )
    return inputs


def get_curves_inputs(wildcards):
    """Pruning: the learning curves after a round (the previous table plus this round's)."""
    index = int(wildcards.round)
    inputs = {
        "histories": [
            sweep_path(wildcards, "trials", trial, "history.csv")
            for trial in trial_ids(wildcards.sweep, index)
        ],
        "metrics": [
            sweep_path(wildcards, "trials", trial, "metrics.json")
            for trial in trial_ids(wildcards.sweep, index)
        ],
    }
    if index > 0:
        inputs["previous"] = sweep_path(
            wildcards, "curves", f"{round_name(index - 1)}.csv"
        )
    return inputs


def get_aggregate_inputs(wildcards):
    """The last round's history, and every trial file, so a deleted trial is trained again."""
    return {
        "history": sweep_path(wildcards, "history", f"{round_name(ROUNDS - 1)}.csv"),
        "metrics": all_trial_metrics(wildcards.sweep),
    }


def get_track_inputs(wildcards):
    """Rounds are tracked one after another, so only one job writes to the MLflow store."""
    index = int(wildcards.round)
    inputs = {"history": sweep_path(wildcards, "history", f"{wildcards.round}.csv")}
    if index > 0:
        inputs["previous"] = sweep_path(
            wildcards, "tracking", f"{round_name(index - 1)}.json"
        )
    return inputs


def test_input(wildcards):
    """{"test": test.json} where the sweep is evaluated on the test set."""
    return {"test": sweep_path(wildcards, "test.json")} if EVALUATED else {}


def get_report_inputs(wildcards):
    """The final table, the test-set result and every trial's per-epoch history."""
    return {
        "table": sweep_path(wildcards, "trials.csv"),
        "best": sweep_path(wildcards, "best.yaml"),
        **test_input(wildcards),
        "histories": [
            sweep_path(wildcards, "trials", trial, "history.csv")
            for index in range(ROUNDS)
            for trial in trial_ids(wildcards.sweep, index)
        ],
    }


def report_outputs(sweep):
    """summary.md and the plots: always the report rule's, the confusion matrix for
    classification, one-at-a-time sensitivity when that strategy ran, the rungs of a
    multi-fidelity sweep."""
    plots = [
        "optimisation_history",
        "parallel_coordinates",
        "importance",
        "partial_dependence",
        "learning_curves",
    ]
    if EVALUATED and "confusion_matrix.csv" in evaluation_outputs(config):
        plots.append("confusion_matrix")
    if config["search"].get("strategy") == "one_at_a_time":
        plots.append("sensitivity")
    if MULTI_FIDELITY:
        plots.append("rungs")
    return [f"results/{sweep}/summary.md"] + [
        f"results/{sweep}/plots/{name}.png" for name in plots
    ]


def get_track_final_inputs(wildcards):
    """After the last round is tracked (one writer at a time): the test result and the report."""
    return {
        "tracked": sweep_path(wildcards, "tracking", f"{round_name(ROUNDS - 1)}.json"),
        **test_input(wildcards),
        "report": report_outputs(wildcards.sweep),
    }


def get_last_history(wildcards):
    return sweep_path(wildcards, "history", f"{round_name(ROUNDS - 1)}.csv")


def get_expect(wildcards):
    return config.get("expect")


def get_verify_input(wildcards):
    return f"results/{SWEEP}/verify.json"


def get_verify_log():
    return f"logs/verify/{SWEEP}.log"


def evaluation_files(sweep):
    """The test-set results of the best trial and of the top-k ensemble, when evaluated."""
    if not EVALUATED:
        return []
    return [f"results/{sweep}/test.json", f"results/{sweep}/ensemble.json"]


def get_tracked_rounds(wildcards):
    """The MLflow view of the last round, apart from get_final_outputs: its chain of track jobs
    needs no checkpoint, so each round is tracked as soon as it finishes, not after the last.
    """
    return f"results/{SWEEP}/tracking/{round_name(ROUNDS - 1)}.json"


def get_final_outputs(wildcards):
    return all_trial_metrics(SWEEP) + [
        f"results/{SWEEP}/trials.csv",
        f"results/{SWEEP}/best.yaml",
        *evaluation_files(SWEEP),
        f"results/{SWEEP}/provenance/provenance.yaml",
        *report_outputs(SWEEP),
        f"results/{SWEEP}/tracking/final.json",
    ]


def start_run():
    """A run (not a dry run) starts: record when and with what resources, for the round line and
    `python -m snakesweep status`, and print the plan's one-line summary."""
    from snakesweep.cluster import gpus_per_trial
    from snakesweep.plan import start_run as record_run

    if workflow.local_exec:
        cores = workflow.cores
        slots = workflow.global_resources.get("gpu_slots")
        gpus = int(getattr(slots, "value", slots) or 0) // TRIALS_PER_JOB
    else:  # a cluster: --jobs trials at once, each with its own cores and GPUs
        jobs = workflow.nodes or 1
        cores = jobs * TRAIN_THREADS
        gpus = jobs * gpus_per_trial(config)
    sweep_dir = Path("results", SWEEP)
    print(record_run(config, sweep_dir, RUN_STARTED, cores, gpus), flush=True)


# The warm worker of a local run (snakesweep/worker.py): jobs hand their work to it instead of
# importing torch, pandas and MLflow each; without it they run in their own process. Cluster
# jobs never use it; the submit host's local rules do not either (login nodes stay light).
WORKER = None


def start_warm_worker():
    global WORKER
    # With --sdm conda/apptainer each job runs in its rule's own environment, not the worker's.
    isolated = bool(workflow.deployment_settings.deployment_method)
    if (
        config["warm_worker"]
        and workflow.local_exec
        and not isolated
        and not os.getenv("SLURM_JOB_ID")
    ):
        WORKER = warm_worker.start(
            Path.cwd(), os.getpid(), Path("logs", "worker.log"), config
        )


onerror:
    warm_worker.stop(WORKER)


onsuccess:
    warm_worker.stop(WORKER)
    from snakesweep.console import finished_lines

    print("\n".join(finished_lines(Path("results", SWEEP), config)))
