"""NEURON as a :class:`~pynn_microcircuit.platform.Platform`. Importing this module imports
no simulator."""

from __future__ import annotations

from pathlib import Path

from pynn_microcircuit.machine import RunsHere
from pynn_microcircuit.platform import CapacityOptions, Platform, RunRequest, register


class NeuronPlatform(RunsHere, Platform):
    name = "neuron"
    summary = "NEURON through PyNN's generic route (one process, or MPI ranks under mpirun)"
    budget_keys = ("memory", "walltime")
    options = ("charge_match",)

    def capacity(self, options: CapacityOptions):
        from .capacity import predict

        def capacity(spec, budget):
            return predict(
                spec, options.t_presim_ms, options.t_sim_ms, options.analysis,
                options.record_fraction,
            )  # fmt: skip

        return capacity

    def run(self, request: RunRequest) -> Path:
        from .run import run_neuron

        return run_neuron(request)


PLATFORM = register(NeuronPlatform())
