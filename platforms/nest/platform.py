"""NEST as a :class:`~pynn_microcircuit.platform.Platform`: the native fast path
(``fastpath``), its capacity model (``capacity``), MPI (``mpi``) and the SpiNNaker weight
emulation (``emulation``), all in ``pynn_microcircuit.platforms.nest``. Importing this module imports no simulator."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynn_microcircuit.machine import RunsHere
from pynn_microcircuit.platform import CapacityOptions, Platform, RunRequest, register

#: SpiNNaker settings the weight emulation (``emulate="spinnaker"``) reads.
EMULATION_KNOBS = ("neurons_per_core", "time_scale_factor", "planning_rate", "no_delay_extensions")


class NestPlatform(RunsHere, Platform):
    name = "nest"
    summary = "NEST through PyNN with a native fast path (threads, MPI)"
    budget_keys = ("memory", "threads", "walltime")
    options = ("threads", "synapses", "emulate", *EMULATION_KNOBS)
    batch_jobs = True

    def capacity(self, options: CapacityOptions):
        from .capacity import predict

        def capacity(spec, budget):
            return predict(
                spec,
                threads=budget.get("threads", options.threads),
                t_presim_ms=options.t_presim_ms,
                t_sim_ms=options.t_sim_ms,
                analysis=options.analysis,
                record_fraction=options.record_fraction,
                synapses=options.synapses,
                memory_budget=budget.get("memory"),
            )

        return capacity

    def run_flags(self, settings: Mapping[str, Any]) -> str:
        return f" --synapses {settings['synapses']}" if settings.get("synapses") else ""

    def run(self, request: RunRequest) -> Path | None:
        """:func:`.run.run_nest`; with ``settings["emulate"] == "spinnaker"`` the weights are
        rounded to sPyNNaker's quanta for the SpiNNaker settings in ``settings``. Returns
        None on MPI ranks other than 0."""
        from pynn_microcircuit.platforms.mpi import Comm

        from .run import run_nest

        comm = Comm()
        quanta = emulation = None
        emulate = request.settings.get("emulate")
        if emulate and comm.is_root:
            from pynn_microcircuit.platforms.spinnaker.quanta import emulated_quanta

            quanta, emulation = emulated_quanta(
                request.params, request.spec, request.settings, request.options.seed
            )
        if emulate and comm.size > 1:
            quanta, emulation = comm.bcast((quanta, emulation))
        run_dir = run_nest(
            request.spec,
            request.options,
            out=request.out,
            progress=request.progress,
            plan=request.plan,
            extra={"params": request.params.to_dict(), **request.extra},
            weight_quanta=quanta,
            emulation=emulation,
        )
        return run_dir if comm.is_root else None


PLATFORM = register(NestPlatform())
