"""Neo/Elephant statistics of run directories, comparison with references, plots, reports."""
