# snakesweep: hyperparameter sweeps for neural networks. All logic lives in rules/common.smk
# and the snakesweep package; this file only wires the parts together.
from snakemake.utils import min_version

min_version("9.0")


# A sweep given with --configfile replaces this default (rules/common.smk): Snakemake's line
# saying the default "is extended by additional config" stays off the console.
if workflow.overwrite_configfiles:
    from snakesweep.console import hide_default_extended

    hide_default_extended()


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/search.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/slurm.smk"
include: "rules/provenance.smk"
include: "rules/reproduce.smk"


rule all:
    default_target: True
    input:
        get_tracked_rounds,
        get_final_outputs,
