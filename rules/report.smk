rule aggregate:
    input:
        unpack(get_aggregate_inputs),
    output:
        table="results/{sweep}/trials.csv",
        best="results/{sweep}/best.yaml",
    log:
        "logs/aggregate/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/aggregate.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../scripts/aggregate_sweep.py"


rule track:
    input:
        unpack(get_track_inputs),
    output:
        "results/{sweep}/tracking/{round}.json",
    log:
        "logs/track/{sweep}/{round}.log",
    benchmark:
        "results/{sweep}/benchmarks/track/{round}.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        artifact_root="results/mlartifacts",
    script:
        "../scripts/track_round.py"
