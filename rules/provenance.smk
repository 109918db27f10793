rule provenance:
    input:
        history=get_last_history,
    output:
        summary="results/{sweep}/provenance/provenance.yaml",
        config="results/{sweep}/provenance/config.yaml",
        packages="results/{sweep}/provenance/packages.txt",
    log:
        "logs/provenance/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/provenance.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        job=job_files,
        workflow_dir=workflow.basedir,
    shell:
        script_command("write_provenance.py", "workflow_dir")
