# Resources of one trial (snakesweep/cluster.py): cores from train.threads, memory and time
# doubling with each retry, GPUs when train.accelerator asks for them. Partition and account
# come from the profile or the command line (profiles/slurm/config.yaml), never from here.
from snakesweep.cluster import (
    TRIAL_GROUP,
    is_lookup,
    mem_mb,
    runtime_min,
    train_resources,
    train_threads,
    trial_threads,
    trials_per_gpu,
)

try:
    TRAIN_THREADS = train_threads(THE_SWEEP)
    TRIAL_THREADS = trial_threads(THE_SWEEP)
    TRAIN_RESOURCES = train_resources(THE_SWEEP)
    TRIALS_PER_JOB = trials_per_gpu(THE_SWEEP)
except ConfigError as error:
    sys.exit(f"snakesweep: config error: {error}")

# A trial's job is a shell command (shell_job, rules/common.smk).
TRIAL_COMMAND = shell_job(
    "train_trial.py",
    "--proposals {input.proposals:q} --metrics {output.metrics:q} --threads {threads} "
    "--runtime-min {resources.runtime}",
)


rule train:
    input:
        unpack(get_train_inputs),
    output:
        metrics="results/{sweep}/trials/{trial}/metrics.json",
        history="results/{sweep}/trials/{trial}/history.csv",
        last="results/{sweep}/trials/{trial}/last.ckpt",
    log:
        "logs/train/{sweep}/{trial}.log",
    benchmark:
        "results/{sweep}/benchmarks/train/{trial}.tsv"
    # `--group-components trials=k` runs k trials in one cluster job (set from
    # train.trials_per_gpu for GPU trials, rules/slurm.smk).
    group:
        TRIAL_GROUP
    # A lookup in a table (task: tabular) is never sent to a cluster and claims no core.
    localrule: is_lookup(THE_SWEEP)
    conda:
        "../envs/train.yaml"
    threads: TRIAL_THREADS
    resources:
        **TRAIN_RESOURCES,
        mem_mb=lambda wildcards, attempt: mem_mb(TRIAL_THREADS, attempt),
        runtime=lambda wildcards, attempt: runtime_min(attempt),
        gpu_slots=TRIAL_GPU_SLOTS,
    shell:
        TRIAL_COMMAND
