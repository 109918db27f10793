# All Python of the workflow: config validation, paths and the input functions of the rules.
import copy
import os
import re
import shlex
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

from snakemake.utils import update_config
from snakesweep.configfile import check_config_file, typed_overrides
from snakesweep.errors import ConfigError
from snakesweep.train.evaluate import evaluation_outputs
from snakesweep.outputs import read_json
from snakesweep.paths import REPORT_PLOTS, SweepPaths, round_name, round_of_trial
from snakesweep.sweep import export_job_config, load_sweep
from snakesweep import worker as warm_worker
from snakesweep.script_job import job_files
from snakesweep.scheduler import cancel_pending_timers

# A sweep given with --configfile stands alone: it replaces the default sweep instead of being
# merged into it (a merge would add the default's parameters to the user's search space).
if workflow.overwrite_configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))
# A nested --config value (budget={"rounds": 8}) arrives with its numbers as text.
update_config(config, typed_overrides(workflow.config_settings.config))

try:
    # Snakemake has read the config files already: a key given twice there was silently lost,
    # and a file asking for YTE templating has run its code (refused all the same).
    for configfile_path in workflow.overwrite_configfiles or workflow.configfiles:
        check_config_file(configfile_path)
    THE_SWEEP = load_sweep(config)
    config.update(THE_SWEEP.config)
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
    from snakesweep.locks import (
        claim,
        hold_locks,
        nobody_running,
        recover_finished_trials,
    )
    from snakesweep.outputs import check_outputs, check_writable

    # A run that cannot write its results stops here, not in its first job (a dry run only
    # reads).
    DRY_RUN = workflow.output_settings.dryrun
    try:
        if not DRY_RUN:
            check_writable(THE_SWEEP.paths.root)
    except ConfigError as error:
        sys.exit(f"snakesweep: {error}")

    # Whether another run (alive, or not provably gone) works in this folder now.
    ALONE = nobody_running(Path(".snakemake"))
    kept_trials = recover_finished_trials()
    if kept_trials:
        print(
            f"[snakesweep] kept {len(kept_trials)} trial{'s' * (len(kept_trials) != 1)} that "
            f"finished before the run was killed: {', '.join(kept_trials)}",
            file=sys.stderr,
        )
    LOCK_CLAIM = claim()
    if LOCK_CLAIM.note:
        print(LOCK_CLAIM.note, file=sys.stderr)
    # An empty or cut-off table read as "no trials" would drop rounds: stop, naming the file.
    try:
        check_outputs(THE_SWEEP.paths.root)
    except ConfigError as error:
        sys.exit(f"snakesweep: {error}")
    # A stop that the budget no longer makes (max_trials, max_time_s, target or patience
    # changed): the stopped rounds, all empty, are proposed again and the sweep goes on (a dry
    # run only says so; never while another run works here: Snakemake refuses this one).
    from snakesweep.rounds import lifted_stops

    lifted = lifted_stops(THE_SWEEP) if ALONE else []
    if lifted:
        print(
            f"[snakesweep] the budget no longer stops the sweep after {int(lifted[0].stem)} "
            "rounds: it goes on" + (" (in a run, not a dry run)" if DRY_RUN else ""),
            file=sys.stderr,
        )
    for stopped_round in [] if DRY_RUN else lifted:
        stopped_round.unlink()

SWEEP = THE_SWEEP.name
ROUNDS = THE_SWEEP.rounds
# Training helper: k-fold cross-validation (one job per fold) and the test-set evaluation.
FOLDS = THE_SWEEP.folds
# A GPU trial takes one of the --resources gpu_slots=<GPUs x train.trials_per_gpu> slots.
TRIAL_GPU_SLOTS = int(THE_SWEEP.on_gpu)
EVALUATION_EXTRAS = [
    f"results/{{sweep}}/{name}" for name in evaluation_outputs(THE_SWEEP)
]
# The best configuration and the ensemble are tested after the search, unless switched off;
# a tabular sweep looks its metrics up in a table: there is no model to test.
# A user's training function (train.function) leaves no model file to test either.
EVALUATED = THE_SWEEP.evaluated
# Multi-fidelity search (promoted trials resume from a parent's checkpoint) and pruning
# (proposals carry thresholds from the learning curves of earlier rounds).
MULTI_FIDELITY = THE_SWEEP.fidelity is not None
PRUNING = THE_SWEEP.pruning is not None


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


def paths(wildcards):
    """The sweep's files (snakesweep/paths.py names every one)."""
    return SweepPaths.of(wildcards.sweep)


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
    files = SweepPaths.of(sweep)
    return [
        files.metrics(trial)
        for index in range(ROUNDS)
        for trial in trial_ids(sweep, index)
    ]


def get_propose_inputs(wildcards):
    """Round r's proposals read the history after round r-1: the table after round r-2 and the
    metrics of round r-1's trials, not round r-1's table, so that recording a round is not a
    step between its last trial and the next proposals (ancient: kept proposals stay kept).
    """
    files = paths(wildcards)
    inputs = {
        "sweep": ancient(files.sweep_yaml),
        # Warm-start tables and a replay list: read, but a newer copy re-proposes nothing.
        "search_files": [ancient(path) for path in THE_SWEEP.search.files],
    }
    index = int(wildcards.round)
    if index > 1:
        inputs["history"] = ancient(files.history(index - 2))
    if index > 0:
        inputs["trials"] = [
            ancient(files.metrics(trial))
            for trial in trial_ids(wildcards.sweep, index - 1)
        ]
        if PRUNING:
            inputs["curves"] = ancient(files.curves(index - 1))
    return inputs


def get_record_inputs(wildcards):
    """A round's history table: the previous table plus this round's trial metrics."""
    files = paths(wildcards)
    index = int(wildcards.round)
    inputs = {
        "sweep": ancient(files.sweep_yaml),
        "trials": [files.metrics(trial) for trial in trial_ids(wildcards.sweep, index)],
    }
    if index > 0:
        inputs["previous"] = files.history(index - 1)
    return inputs


def get_trial_proposals(wildcards):
    return paths(wildcards).proposals_of(wildcards.trial)


def get_train_inputs(wildcards):
    """A trial's proposal; a promoted trial (multi-fidelity) also its parent's checkpoint and
    history, which it continues."""
    files = paths(wildcards)
    inputs = {"proposals": files.proposals_of(wildcards.trial)}
    if MULTI_FIDELITY:
        rounds_file = checkpoints.propose.get(
            sweep=wildcards.sweep,
            round=round_name(round_of_trial(wildcards.trial)),
        ).output[0]
        for proposal in read_json(rounds_file)["trials"]:
            parent = (proposal.get("fidelity") or {}).get("resume_from")
            if proposal["trial"] == wildcards.trial and parent:
                inputs["resume"] = files.last_checkpoint(parent)
                inputs["parent_history"] = files.trial_history(parent)
    return inputs


def get_curves_inputs(wildcards):
    """Pruning: the learning curves after a round (the previous table plus this round's)."""
    files = paths(wildcards)
    index = int(wildcards.round)
    trials = trial_ids(wildcards.sweep, index)
    inputs = {
        "histories": [files.trial_history(trial) for trial in trials],
        "metrics": [files.metrics(trial) for trial in trials],
    }
    if index > 0:
        inputs["previous"] = files.curves(index - 1)
    return inputs


def get_aggregate_inputs(wildcards):
    """Every trial file, so a deleted trial is trained again; the table before the last round,
    to which aggregate adds the last round's trials itself (as propose does), beside its
    record_round rather than after it."""
    files = paths(wildcards)
    inputs = {
        "metrics": all_trial_metrics(wildcards.sweep),
        "last_round": [
            files.metrics(trial) for trial in trial_ids(wildcards.sweep, ROUNDS - 1)
        ],
    }
    if ROUNDS > 1:
        inputs["history"] = files.history(ROUNDS - 2)
    return inputs


def get_track_inputs(wildcards):
    """Rounds are tracked one after another, so only one job writes to the MLflow store."""
    files = paths(wildcards)
    index = int(wildcards.round)
    inputs = {"history": files.history(index)}
    if index > 0:
        inputs["previous"] = files.tracking(index - 1)
    return inputs


def test_input(wildcards):
    """{"test": test.json} where the sweep is evaluated on the test set."""
    return {"test": paths(wildcards).test_json} if EVALUATED else {}


def get_search_plot_inputs(wildcards):
    """The final table and every trial's per-epoch history (the top trials' learning curves)."""
    files = paths(wildcards)
    return {
        "table": files.trials_csv,
        "histories": [
            files.trial_history(trial)
            for index in range(ROUNDS)
            for trial in trial_ids(wildcards.sweep, index)
        ],
    }


def get_report_inputs(wildcards):
    """The final table, the test-set result and the search's plots (summary.md shows them)."""
    files = paths(wildcards)
    return {
        "table": files.trials_csv,
        "best": files.best_yaml,
        **test_input(wildcards),
        "plots": [files.plot(name) for name in REPORT_PLOTS],
    }


def report_outputs(sweep):
    """summary.md and the plots: always the report rule's and the partial dependence (the
    slowest plot, its own job so that it is drawn beside the report), the confusion matrix for
    classification, one-at-a-time sensitivity when that strategy ran, the rungs of a
    multi-fidelity sweep."""
    plots = [*REPORT_PLOTS, "partial_dependence"]
    if EVALUATED and "confusion_matrix.csv" in evaluation_outputs(THE_SWEEP):
        plots.append("confusion_matrix")
    if THE_SWEEP.search.strategy == "one_at_a_time":
        plots.append("sensitivity")
    if MULTI_FIDELITY:
        plots.append("rungs")
    files = SweepPaths.of(sweep)
    return [files.summary_md] + [files.plot(name) for name in plots]


def get_track_final_inputs(wildcards):
    """After the last round is tracked (one writer at a time): the test result and the report."""
    return {
        "tracked": paths(wildcards).tracking(ROUNDS - 1),
        **test_input(wildcards),
        "report": report_outputs(wildcards.sweep),
    }


def get_last_history(wildcards):
    return paths(wildcards).history(ROUNDS - 1)


def get_expect(wildcards):
    return THE_SWEEP.config.get("expect")


def get_verify_input(wildcards):
    """verify.json, and the whole sweep as `rule all` makes it (summary, report, MLflow view,
    provenance: what the run's last lines name, and what `export` bundles)."""
    return [
        THE_SWEEP.paths.verify_json,
        get_tracked_rounds(wildcards),
        *get_final_outputs(wildcards),
    ]


def get_verify_log():
    return f"logs/verify/{SWEEP}.log"


def evaluation_files(sweep):
    """The test-set results of the best trial and of the top-k ensemble, when evaluated."""
    if not EVALUATED:
        return []
    return [SweepPaths.of(sweep).test_json, SweepPaths.of(sweep).ensemble_json]


def get_tracked_rounds(wildcards):
    """The MLflow view of the last round, apart from get_final_outputs: its chain of track jobs
    needs no checkpoint, so each round is tracked as soon as it finishes, not after the last.
    """
    return THE_SWEEP.paths.tracking(ROUNDS - 1)


def get_final_outputs(wildcards):
    return all_trial_metrics(SWEEP) + [
        THE_SWEEP.paths.trials_csv,
        THE_SWEEP.paths.best_yaml,
        *evaluation_files(SWEEP),
        THE_SWEEP.paths.provenance_yaml,
        *report_outputs(SWEEP),
        THE_SWEEP.paths.tracking_final,
    ]


def forget_outdated_records():
    """A sweep folder of an earlier snakesweep: its proposals and final table are recorded with
    the inputs they had then, so that Snakemake would make them, and train their rounds, again
    (snakesweep/records.py). Forget those records, before any job runs, and ask for the same
    command again: nothing finished is lost."""
    from snakemake.io import IOFile
    from snakesweep.records import outdated_records

    persistence = workflow.persistence
    outdated = outdated_records(
        THE_SWEEP.paths, ROUNDS, lambda path: persistence.input(IOFile(str(path)))
    )
    for path in outdated:
        persistence.cleanup_metadata(IOFile(str(path)))
    if outdated:
        sys.exit(
            f"snakesweep: {THE_SWEEP.paths.root} was started by an earlier snakesweep, whose "
            f"records of {len(outdated)} rounds and tables this one reads differently; they "
            "are updated (nothing finished is lost): run the same command again."
        )


# Where the user started snakemake (the shell's PWD; --directory moves the run elsewhere): the
# commands and paths a run prints are given as they work there.
STARTED_IN = Path(os.environ.get("PWD") or ".")


def start_run():
    """A run (not a dry run) starts: record when and with what resources, for the round line and
    `python -m snakesweep status`, and print the plan's one-line summary."""
    from snakesweep.cluster import gpus_per_trial
    from snakesweep.console import configfile_shown
    from snakesweep.plan import start_run as record_run

    if workflow.local_exec:
        cores = workflow.cores
        slots = workflow.global_resources.get("gpu_slots")
        gpus = int(getattr(slots, "value", slots) or 0) // TRIALS_PER_JOB
    else:  # a cluster: --jobs trials at once, each with its own cores and GPUs
        jobs = workflow.nodes or 1
        cores = jobs * TRAIN_THREADS
        gpus = jobs * gpus_per_trial(THE_SWEEP)
    configfiles = workflow.overwrite_configfiles
    shown = configfile_shown(configfiles[-1], STARTED_IN) if configfiles else None
    print(record_run(THE_SWEEP, RUN_STARTED, cores, gpus, shown), flush=True)


# The sweep's jobs are shell commands (a reproduction's two checks excepted): the script runs
# as `python -S` and hands the job to the warm worker without importing Snakemake's script
# support (snakesweep/worker.py, ~0.03 s instead of ~0.1 s); with --sdm conda the `python` of
# the rule's environment runs it. The interpreter and the script are written into
# the command here, not passed as params: a change of interpreter must not run finished jobs
# again (rerun-triggers include params); the config reaches the jobs through the environment.
JOB_PYTHON = (
    "python" if workflow.deployment_settings.deployment_method else sys.executable
)
export_job_config(config)


def shell_job(script, arguments):
    """The command running scripts/`script` with the job's wildcards and log (what
    snakesweep.script_job.job_parser reads) and the rule's own `arguments`."""
    path = os.path.join(workflow.basedir, "scripts", script)
    return (
        f"{shlex.quote(JOB_PYTHON)} -S {shlex.quote(path)} {{wildcards}} "
        f"--log {{log:q}} {arguments}"
    )


def script_command(script, *params):
    """The command of a rule whose script reads its job as Snakemake's `snakemake` object
    (snakesweep/script_job.py): the job's files (the rule's `job` param, `job_files`: derived
    from its input and output, so never a rerun trigger) and the rule's plain `params` by name,
    which stay params of their own (rerun triggers)."""
    plain = "".join(f" --param {name}={{params.{name}:q}}" for name in params)
    return shell_job(script, f"--job {{params.job:q}}{plain}")


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
    cancel_pending_timers()


onsuccess:
    warm_worker.stop(WORKER)
    cancel_pending_timers()
    from snakesweep.console import every_trial_failed, finished_lines

    # Paths and commands that work where the user started snakemake.
    run = [Path(workflow.main_snakefile), *workflow.overwrite_configfiles]
    lines = finished_lines(THE_SWEEP, STARTED_IN, run)
    print("\n".join(lines))
    failure = every_trial_failed(THE_SWEEP)
    if failure:
        sys.exit(failure)
