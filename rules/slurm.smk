# Cluster runs: packing of trials into jobs, and checks of the SLURM submission before the
# first job. Local runs only pass through here; the jobs themselves run without hooks.
from snakesweep.slurm import check_submission, resource_value


def slurm_setting(name):
    """A train job's slurm_partition / slurm_account from --set-resources or --default-resources."""
    settings = workflow.resource_settings
    for resources in (
        settings.overwrite_resources.get("train", {}),
        settings.default_resources or {},
    ):
        if name in resources:
            return resource_value(resources[name])
    return None


def pack_trials(k):
    """Group k trials into one cluster job (`--group-components trials=k`), unless the
    command line already says how many. Snakemake reads group components from its command
    line only, after the workflow is parsed, so they are set here and the DAG regrouped.
    """
    groups = workflow.group_settings
    if k > 1 and TRIAL_GROUP not in groups.group_components:
        # Regrouping trials that are already in the DAG (a resumed round) made Snakemake
        # 9.27 submit the same group job again every second; such a round runs unpacked.
        proposed = (
            job
            for job in workflow.dag.needrun_jobs()
            if job.rule.name in ("train", "train_fold")
        )
        if any(all(os.path.exists(f) for f in job.input) for job in proposed):
            print(
                "[snakesweep] trials of an unfinished round run unpacked (one job each)"
            )
            return
        groups.group_components = {**groups.group_components, TRIAL_GROUP: k}
        workflow.dag.update_groups()


onstart:
    forget_outdated_records()
    start_warm_worker()
    start_run()
    record_held_locks()
    plugin = workflow.executor_plugin
    if plugin is not None and not workflow.local_exec:
        pack_trials(TRIALS_PER_JOB)
    # On the submit host: partition, account and GPU request checked against the cluster
    # (snakesweep/slurm.py), so a mistake is one line and exit 1, not failed trials or a
    # workflow that never ends.
    if plugin is not None and plugin.name == "slurm":
        gpus = TRAIN_RESOURCES.get("gpu", 1 if "gres" in TRAIN_RESOURCES else 0)
        try:
            check_submission(
                slurm_setting("slurm_partition"),
                slurm_setting("slurm_account"),
                gpus,
            )
        except ConfigError as error:
            sys.exit(f"snakesweep: slurm: {error}")
