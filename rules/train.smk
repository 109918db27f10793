rule train:
    input:
        proposals=get_trial_proposals,
    output:
        metrics="results/{sweep}/trials/{trial}/metrics.json",
        history="results/{sweep}/trials/{trial}/history.csv",
    log:
        "logs/train/{sweep}/{trial}.log",
    benchmark:
        "results/{sweep}/benchmarks/train/{trial}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
        gpu_slots=TRIAL_GPU_SLOTS,
    script:
        "../scripts/train_trial.py"
