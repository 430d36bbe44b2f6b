"""A run through PyNN's generic route (:class:`pynn_microcircuit.network.PyNNBackend`) on any
PyNN backend module: build, simulate with progress, store the spikes, write ``run.json``.

NEURON uses it (:mod:`pynn_microcircuit.platforms.neuron.run`), and so can a new platform
before it has a fast path (the tests run it on ``pyNN.mock``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pynn_microcircuit import rundir
from pynn_microcircuit.network import PyNNBackend
from pynn_microcircuit.platform import RunRequest
from pynn_microcircuit.platforms.mpi import Comm, root_decides
from pynn_microcircuit.runner import (
    activity_check,
    build_for_run,
    peak_rss_bytes,
    simulate,
    store_spikes,
)
from pynn_microcircuit.runrecord import RunRecord
from pynn_microcircuit.scaling import ModelSpec

log = logging.getLogger(__name__)


def run_generic(
    sim,
    platform: str,
    request: RunRequest,
    setup_kwargs: dict | None = None,
    details: dict | None = None,
    backend_class: type[PyNNBackend] = PyNNBackend,
    build_spec: ModelSpec | None = None,
) -> Path | None:
    """Build and simulate ``request`` with the PyNN module ``sim`` (generic route); returns
    the run directory (``spikes.h5`` and ``run.json``, as every platform writes them).

    Under ``mpirun`` (PyNN's NEURON backend distributes the cells over the ranks with
    NEURON's ``ParallelContext``; mpi4py needed) every rank builds and simulates its cells,
    rank 0 creates the directory and writes the spikes of all ranks, and the other ranks
    return None.

    Parameters
    ----------
    sim : module
        A PyNN backend module, not yet set up (e.g. ``pyNN.neuron``).
    platform : str
        The platform's name, recorded in ``run.json`` and used in the directory's name.
    request : RunRequest
        Model, options (times in ms, seed), output directory, plan, progress callback.
    setup_kwargs : dict, optional
        Extra keyword arguments of ``sim.setup`` (the time step and seed are set here).
    details : dict, optional
        The platform's own entries of ``run.json``.
    backend_class : type, optional
        A :class:`~pynn_microcircuit.network.PyNNBackend` subclass (the platform's hooks).
    build_spec : ModelSpec, optional
        What to build when the platform builds the model differently from how it is
        recorded (NEURON's charge-matched weights); ``run.json`` and the activity check keep
        ``request.spec``, the model.
    """
    spec, opts = request.spec, request.options
    progress = request.progress or (lambda *a: None)
    t0 = time.perf_counter()
    sim.setup(timestep=spec.resolution_ms, min_delay=spec.resolution_ms, **(setup_kwargs or {}))
    comm = Comm()  # the launcher's ranks, which PyNN's backend shares (mpi4py when > 1)
    stem = f"{platform}_n{spec.n_scale:g}_k{spec.k_scale:g}_{spec.method}_s{opts.seed}"
    run_dir = Path(root_decides(comm, lambda: str(rundir.new_run_dir(request.out, stem))))
    if comm.is_root:
        log.info("run directory %s (%s, %d process(es))", run_dir, platform, comm.size)
    try:
        backend = backend_class(sim, opts.seed)
        net = build_for_run(sim, build_spec or spec, opts, backend)
        # every rank's connections (PyNN's size() sums them over MPI ranks)
        n_connections = sum(p.size() for p in net.projections.values())
        t_build = time.perf_counter() - t0
        t_total = opts.t_presim_ms + opts.t_sim_ms
        t1 = time.perf_counter()
        simulate(sim, t_total, opts.progress_chunks, progress if comm.is_root else _quiet)
        t_simulate = time.perf_counter() - t1
        # get_data gathers every rank's spikes on rank 0 (pyNN/recording/__init__.py)
        spikes = {k: _kept(*v, t_total) for k, v in net.spikes().items()}
    finally:
        sim.end()
    peak = comm.gather(peak_rss_bytes())
    if not comm.is_root:
        return None
    populations = store_spikes(run_dir, spec, spikes, net.n_recorded, opts.t_presim_ms, t_total)
    activity = activity_check(spec, populations)
    if activity["activity_note"]:
        log.warning(activity["activity_note"])
    RunRecord.for_model(
        platform, spec, opts,
        simulated=True,
        populations=populations,
        timings_s={"build": t_build, "simulate": t_simulate, **net.build_phases_s},
        peak_rss_bytes=max(peak),
        versions=rundir.versions(),
        plan=request.plan,
        details={
            "backend": backend.name,
            "mpi_ranks": comm.size,
            "peak_rss_bytes_per_rank": peak,
            "n_connections_built": int(n_connections),
            "real_time_factor": t_simulate / (t_total * 1e-3),
            **activity,
            **(details or {}),
            "params": request.params.to_dict(),
            **request.extra,
        },
    ).write(run_dir)  # fmt: skip
    return run_dir


def _quiet(*_args) -> None:
    """Progress of ranks other than 0: nothing."""


def _kept(ids, times, t_end: float):
    """Spikes stamped after ``t_end`` ms (a backend may run one min_delay past the requested
    time to deliver the last spikes) fall outside the run and are not stored."""
    keep = times <= t_end + 1e-9
    return ids[keep], times[keep]
