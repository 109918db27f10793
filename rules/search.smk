rule freeze_config:
    output:
        "results/{sweep}/sweep.yaml",
    log:
        "logs/freeze_config/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/freeze_config.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        job=job_files,
    shell:
        script_command("freeze_config.py")


checkpoint propose:
    input:
        unpack(get_propose_inputs),
    output:
        "results/{sweep}/rounds/{round}.json",
    log:
        "logs/propose/{sweep}/{round}.log",
    benchmark:
        "results/{sweep}/benchmarks/propose/{round}.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        job=job_files,
    shell:
        script_command("propose_round.py")


rule record_round:
    input:
        unpack(get_record_inputs),
    output:
        "results/{sweep}/history/{round}.csv",
    log:
        "logs/record_round/{sweep}/{round}.log",
    benchmark:
        "results/{sweep}/benchmarks/record_round/{round}.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        job=job_files,
    shell:
        script_command("record_round.py")


rule record_curves:
    input:
        unpack(get_curves_inputs),
    output:
        "results/{sweep}/curves/{round}.csv",
    log:
        "logs/record_curves/{sweep}/{round}.log",
    benchmark:
        "results/{sweep}/benchmarks/record_curves/{round}.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        job=job_files,
    shell:
        script_command("record_curves.py")
