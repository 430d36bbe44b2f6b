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
from pynn_microcircuit.runner import (
    activity_check,
    build_for_run,
    peak_rss_bytes,
    simulate,
    store_spikes,
)
from pynn_microcircuit.runrecord import RunRecord

log = logging.getLogger(__name__)


def run_generic(
    sim,
    platform: str,
    request: RunRequest,
    setup_kwargs: dict | None = None,
    details: dict | None = None,
) -> Path:
    """Build and simulate ``request`` with the PyNN module ``sim`` (generic route); returns
    the run directory (``spikes.h5`` and ``run.json``, as every platform writes them).

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
    """
    spec, opts = request.spec, request.options
    progress = request.progress or (lambda *a: None)
    stem = f"{platform}_n{spec.n_scale:g}_k{spec.k_scale:g}_{spec.method}_s{opts.seed}"
    run_dir = rundir.new_run_dir(request.out, stem)
    log.info("run directory %s (%s)", run_dir, platform)
    t0 = time.perf_counter()
    sim.setup(timestep=spec.resolution_ms, min_delay=spec.resolution_ms, **(setup_kwargs or {}))
    try:
        backend = PyNNBackend(sim, opts.seed)
        net = build_for_run(sim, spec, opts, backend)
        n_connections = sum(len(p) for p in net.projections.values())
        t_build = time.perf_counter() - t0
        t_total = opts.t_presim_ms + opts.t_sim_ms
        t1 = time.perf_counter()
        simulate(sim, t_total, opts.progress_chunks, progress)
        t_simulate = time.perf_counter() - t1
        spikes = {k: _kept(*v, t_total) for k, v in net.spikes().items()}
    finally:
        sim.end()
    populations = store_spikes(run_dir, spec, spikes, net.n_recorded, opts.t_presim_ms, t_total)
    activity = activity_check(spec, populations)
    if activity["activity_note"]:
        log.warning(activity["activity_note"])
    RunRecord.for_model(
        platform, spec, opts,
        simulated=True,
        populations=populations,
        timings_s={"build": t_build, "simulate": t_simulate, **net.build_phases_s},
        peak_rss_bytes=peak_rss_bytes(),
        versions=rundir.versions(),
        plan=request.plan,
        details={
            "backend": backend.name,
            "n_connections_built": int(n_connections),
            "real_time_factor": t_simulate / (t_total * 1e-3),
            **activity,
            **(details or {}),
            "params": request.params.to_dict(),
            **request.extra,
        },
    ).write(run_dir)  # fmt: skip
    return run_dir


def _kept(ids, times, t_end: float):
    """Spikes stamped after ``t_end`` ms (a backend may run one min_delay past the requested
    time to deliver the last spikes) fall outside the run and are not stored."""
    keep = times <= t_end + 1e-9
    return ids[keep], times[keep]
