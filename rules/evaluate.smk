# k-fold cross-validation (each fold its own job, merged per trial) and the final evaluation
# of the best configuration and of the top-k ensemble on the held-out test set.


if FOLDS:

    ruleorder: merge_folds > train

    rule train_fold:
        input:
            proposals=get_trial_proposals,
        output:
            metrics="results/{sweep}/trials/{trial}/fold{fold}/metrics.json",
            history="results/{sweep}/trials/{trial}/fold{fold}/history.csv",
        log:
            "logs/train_fold/{sweep}/{trial}/{fold}.log",
        benchmark:
            "results/{sweep}/benchmarks/train_fold/{trial}/{fold}.tsv"
        wildcard_constraints:
            fold=r"\d+",
        # Same cluster resources and packing as a trial (rules/train.smk).
        group:
            TRIAL_GROUP
        conda:
            "../envs/train.yaml"
        threads: TRAIN_THREADS
        resources:
            **TRAIN_RESOURCES,
            mem_mb=lambda wildcards, attempt: mem_mb(TRAIN_THREADS, attempt),
            runtime=lambda wildcards, attempt: runtime_min(attempt),
            gpu_slots=TRIAL_GPU_SLOTS,
        shell:
            TRIAL_COMMAND

    rule merge_folds:
        input:
            metrics=expand(
                "results/{{sweep}}/trials/{{trial}}/fold{fold}/metrics.json",
                fold=range(FOLDS),
            ),
            histories=expand(
                "results/{{sweep}}/trials/{{trial}}/fold{fold}/history.csv",
                fold=range(FOLDS),
            ),
        output:
            metrics="results/{sweep}/trials/{trial}/metrics.json",
            history="results/{sweep}/trials/{trial}/history.csv",
        log:
            "logs/merge_folds/{sweep}/{trial}.log",
        benchmark:
            "results/{sweep}/benchmarks/merge_folds/{trial}.tsv"
        localrule: True
        conda:
            "../envs/search.yaml"
        params:
            job=job_files,
        shell:
            script_command("merge_folds.py")


rule evaluate_best:
    input:
        table="results/{sweep}/trials.csv",
    output:
        test="results/{sweep}/test.json",
        predictions="results/{sweep}/test_predictions.csv",
        extra=EVALUATION_EXTRAS,
    log:
        "logs/evaluate_best/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/evaluate_best.tsv"
    # First of the jobs after the search: the report and the final tracking wait for it.
    priority: 1
    conda:
        "../envs/train.yaml"
    threads: TRAIN_THREADS
    resources:
        **TRAIN_RESOURCES,
        mem_mb=lambda wildcards, attempt: mem_mb(TRAIN_THREADS, attempt),
        runtime=lambda wildcards, attempt: runtime_min(attempt),
    params:
        job=job_files,
    shell:
        script_command("evaluate_best.py")


rule evaluate_ensemble:
    input:
        table="results/{sweep}/trials.csv",
    output:
        ensemble="results/{sweep}/ensemble.json",
        predictions="results/{sweep}/ensemble_predictions.csv",
    log:
        "logs/evaluate_ensemble/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/evaluate_ensemble.tsv"
    conda:
        "../envs/train.yaml"
    threads: TRAIN_THREADS
    resources:
        **TRAIN_RESOURCES,
        mem_mb=lambda wildcards, attempt: mem_mb(TRAIN_THREADS, attempt),
        runtime=lambda wildcards, attempt: runtime_min(attempt),
    params:
        job=job_files,
    shell:
        script_command("evaluate_ensemble.py")
