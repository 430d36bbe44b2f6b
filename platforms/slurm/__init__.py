"""SLURM job scripts for NEST runs, reference ensembles and sweeps on clusters."""
