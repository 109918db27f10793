rule verify_sweep:
    input:
        table="results/{sweep}/trials.csv",
    output:
        "results/{sweep}/verify.json",
    log:
        "logs/verify_sweep/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/verify_sweep.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        expect=get_expect,
    script:
        "../scripts/verify_sweep.py"


# `snakemake verify --configfile SWEEP.yaml`: run the sweep if needed, compare with `expect:`,
# print the differences and fail when a value is outside its tolerance.
rule verify:
    input:
        get_verify_input,
    log:
        get_verify_log(),
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../scripts/report_verify.py"
