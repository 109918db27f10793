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
    params:
        job=job_files,
    shell:
        script_command("aggregate_sweep.py")


rule track:
    input:
        unpack(get_track_inputs),
    output:
        runs="results/{sweep}/tracking/{round}.json",
        curves=directory("results/{sweep}/plots/trials/{round}"),
    log:
        "logs/track/{sweep}/{round}.log",
    benchmark:
        "results/{sweep}/benchmarks/track/{round}.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 0
    params:
        job=job_files,
        artifact_root="results/mlartifacts",
    shell:
        script_command("track_round.py", "artifact_root")


rule plot_search:
    input:
        unpack(get_search_plot_inputs),
    output:
        optimisation_history=report(
            "results/{sweep}/plots/optimisation_history.png",
            caption="../report/optimisation_history.rst",
            category="Search",
            labels={"figure": "optimisation history"},
        ),
        parallel_coordinates=report(
            "results/{sweep}/plots/parallel_coordinates.png",
            caption="../report/parallel_coordinates.rst",
            category="Search",
            labels={"figure": "parallel coordinates"},
        ),
        importance=report(
            "results/{sweep}/plots/importance.png",
            caption="../report/importance.rst",
            category="Parameters",
            labels={"figure": "importance"},
        ),
        learning_curves=report(
            "results/{sweep}/plots/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Training",
            labels={"figure": "learning curves (top 5)"},
        ),
    log:
        "logs/plot_search/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/plot_search.tsv"
    # Drawn from the final table alone, beside the test-set evaluation; the final tracking
    # waits for the plots: they run before the jobs it does not wait for.
    priority: 1
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        job=job_files,
    shell:
        script_command("plot_search.py")


rule report:
    input:
        unpack(get_report_inputs),
    output:
        summary="results/{sweep}/summary.md",
        summary_html=report(
            "results/{sweep}/report/summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"figure": "summary"},
        ),
        table=report(
            "results/{sweep}/report/trials.html",
            caption="../report/trials.rst",
            category="Summary",
            labels={"figure": "all trials"},
        ),
    log:
        "logs/report/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/report.tsv"
    # The final tracking waits for the report: it runs before the jobs that it does not wait
    # for (the ensemble, the provenance).
    priority: 1
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        job=job_files,
    shell:
        script_command("report_sweep.py")


rule plot_partial_dependence:
    input:
        table="results/{sweep}/trials.csv",
    output:
        report(
            "results/{sweep}/plots/partial_dependence.png",
            caption="../report/partial_dependence.rst",
            category="Parameters",
            labels={"figure": "partial dependence"},
        ),
    log:
        "logs/plot_partial_dependence/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/plot_partial_dependence.tsv"
    priority: 1
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        job=job_files,
    shell:
        script_command("plot_partial_dependence.py")


rule plot_confusion_matrix:
    input:
        matrix="results/{sweep}/confusion_matrix.csv",
    output:
        report(
            "results/{sweep}/plots/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="Test set",
            labels={"figure": "confusion matrix (best, test set)"},
        ),
    log:
        "logs/plot_confusion_matrix/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/plot_confusion_matrix.tsv"
    priority: 1
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        job=job_files,
    shell:
        script_command("plot_confusion_matrix.py")


rule plot_sensitivity:
    input:
        table="results/{sweep}/trials.csv",
    output:
        report(
            "results/{sweep}/plots/sensitivity.png",
            caption="../report/sensitivity.rst",
            category="Parameters",
            labels={"figure": "one-at-a-time sensitivity"},
        ),
    log:
        "logs/plot_sensitivity/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/plot_sensitivity.tsv"
    priority: 1
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        job=job_files,
    shell:
        script_command("plot_sensitivity.py")


rule plot_rungs:
    input:
        table="results/{sweep}/trials.csv",
    output:
        report(
            "results/{sweep}/plots/rungs.png",
            caption="../report/rungs.rst",
            category="Search",
            labels={"figure": "rungs and promotions"},
        ),
    log:
        "logs/plot_rungs/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/plot_rungs.tsv"
    priority: 1
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        job=job_files,
    shell:
        script_command("plot_rungs.py")


rule track_final:
    input:
        unpack(get_track_final_inputs),
    output:
        "results/{sweep}/tracking/final.json",
    log:
        "logs/track_final/{sweep}.log",
    benchmark:
        "results/{sweep}/benchmarks/track_final.tsv"
    localrule: True
    conda:
        "../envs/train.yaml"
    params:
        job=job_files,
        artifact_root="results/mlartifacts",
    shell:
        script_command("track_final.py", "artifact_root")
