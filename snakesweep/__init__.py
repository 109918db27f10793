"""snakesweep: hyperparameter sweeps for neural networks as a Snakemake workflow."""
