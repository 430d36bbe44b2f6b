"""Benchmark mode in the style of the PD14 community benchmarks: a long run (default 10 s of
model time) with no spike recording, the warm-up (default 500 ms) excluded from the timing;
reported as the real-time factor (wall time / model time) and synaptic events per second,
for comparing machines (the measures of e.g. van Albada et al. 2018, Front Neurosci 12:291,
and Kurth et al. 2022, Neuromorph Comput Eng 2:021001).

Without recording, spikes are counted by NEST's kernel counter ``local_spike_counter``
(spikes emitted by this process's neurons during the last ``Run``/``Simulate`` call, so it is
read after every step and summed); synaptic events are those spikes times the
model's mean recurrent out-degree ``S / N`` plus the external Poisson events
``sum_i N_i R_ext,i`` (``R_ext = K_ext nu_ext`` per neuron, each event one synapse).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import nest
import numpy as np

from pynn_microcircuit import rundir
from pynn_microcircuit.network import build
from pynn_microcircuit.runner import peak_rss_bytes, simulate
from pynn_microcircuit.scaling import ModelSpec

from .capacity import uses_compact
from .fastpath import NestBackend
from .run import chunked_run
from .setup import choose_threads, largest_synapse_type, setup, synapse_types

log = logging.getLogger(__name__)


def spike_count() -> int:
    """Spikes emitted by this process's neurons in the last Run/Simulate call (NEST kernel
    status; measured: it restarts with every call)."""
    return int(nest.GetKernelStatus("local_spike_counter"))


def run_benchmark(
    spec: ModelSpec,
    seed: int,
    threads: int | None = None,
    t_presim_ms: float = 500.0,
    t_sim_ms: float = 10_000.0,
    out: str | Path | None = None,
    progress=None,
    synapses: str = "auto",
) -> tuple[Path, dict]:
    """Build ``spec`` on the NEST fast path without recording, simulate the warm-up, then
    time ``t_sim_ms`` of model time; write ``benchmark.json`` into a new directory.

    Returns the directory and the result (times in s, ``real_time_factor`` = simulation
    wall time / model time, ``synaptic_events_per_s`` of wall time, ``spikes``,
    ``mean_rate_hz``, peak memory, threads, versions)."""
    progress = progress or (lambda *a: None)
    threads, why = choose_threads(largest_synapse_type(spec), threads)
    if why:
        log.warning(why)
    stem = f"benchmark_n{spec.n_scale:g}_k{spec.k_scale:g}_{spec.method}_s{seed}"
    run_dir = rundir.new_run_dir(out, stem)
    t0 = time.perf_counter()
    sim = setup(spec.resolution_ms, seed, threads)
    compact = uses_compact(spec, threads, synapses, 0.0)  # nothing recorded
    backend = NestBackend(sim, seed, synapse_types(spec, threads, compact=compact))
    build(sim, spec, seed, backend=backend, record_fraction=0.0)
    t_build = time.perf_counter() - t0
    with chunked_run(sim) as advance:
        t1 = time.perf_counter()
        simulate(sim, t_presim_ms, 1, lambda *a: None, advance=advance)
        t_presim = time.perf_counter() - t1
        spikes = 0

        def counted(ms: float) -> None:
            nonlocal spikes
            advance(ms)
            spikes += spike_count()

        t2 = time.perf_counter()
        simulate(sim, t_sim_ms, 10, progress, advance=counted)
        t_sim = time.perf_counter() - t2
    model_s = t_sim_ms * 1e-3
    out_degree = spec.total_synapses / spec.total_neurons
    external = float(np.dot(spec.n_neurons, spec.ext_rate_hz))
    events = spikes * out_degree + external * model_s
    result = {
        "kind": "benchmark",
        "platform": "nest",
        "n_scale": spec.n_scale,
        "k_scale": spec.k_scale,
        "method": spec.method,
        "seed": seed,
        "threads": threads,
        "neurons": spec.total_neurons,
        "synapses": spec.total_synapses,
        "synapse_storage": "compact" if compact else "full",
        "t_presim_ms": t_presim_ms,
        "t_sim_ms": t_sim_ms,
        "build_s": t_build,
        "presim_s": t_presim,
        "prepare_s": advance.setup_s,  # NEST's delivery tables, part of presim_s
        "simulate_s": t_sim,
        "real_time_factor": t_sim / model_s,
        "spikes": spikes,
        "mean_rate_hz": spikes / spec.total_neurons / model_s,
        "synaptic_events": events,
        "synaptic_events_per_s": events / t_sim,
        "peak_rss_bytes": peak_rss_bytes(),
        "versions": rundir.versions(),
    }
    rundir.write_json_atomic(run_dir / "benchmark.json", result)
    rundir.finished(run_dir)  # its record is benchmark.json
    return run_dir, result
