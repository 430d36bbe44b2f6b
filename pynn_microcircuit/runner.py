"""Backend-independent pieces of a run: options, chunked simulation with progress, rates,
memory. Each platform's ``run`` module (e.g. :mod:`pynn_microcircuit.platforms.nest.run`) uses them."""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


#: Default warm-up (discarded) and analysed simulated time, ms: every command and model
#: uses these (Potjans & Diesmann 2014 discard the first 100 ms; 500 ms covers the slower
#: start of downscaled networks).
DEFAULT_T_PRESIM_MS = 500.0
DEFAULT_T_SIM_MS = 1000.0


#: NEST connection storage (``--synapses``): ``full`` (plain ``static_synapse``: fastest
#: simulation), ``compact`` (``static_synapse_hpc``: about a third less memory at full scale,
#: simulation 1.3x slower there), ``auto`` (full unless it would not fit this machine's memory;
#: ``pynn_microcircuit.platforms.nest.capacity.uses_compact``).
SYNAPSE_CHOICES = ("auto", "full", "compact")


@dataclass(frozen=True)
class RunOptions:
    """How to run: times in ms, seed, threads (None: all cores), recording fraction, and
    (NEST) the synapse storage: ``auto``, ``full`` or ``compact``
    (``pynn_microcircuit.platforms.nest.capacity.uses_compact``)."""

    t_presim_ms: float = DEFAULT_T_PRESIM_MS
    t_sim_ms: float = DEFAULT_T_SIM_MS
    seed: int = 12345
    threads: int | None = None
    record_fraction: float = 1.0
    progress_chunks: int = 10
    synapses: str = "auto"


def build_for_run(sim, spec, opts: RunOptions, backend):
    """:func:`pynn_microcircuit.network.build` with the run's seed and recording options
    (spikes kept from the end of the warm-up)."""
    from .network import build

    return build(
        sim,
        spec,
        opts.seed,
        backend=backend,
        record_fraction=opts.record_fraction,
        record_from_ms=opts.t_presim_ms,
    )


def peak_rss_bytes() -> int:
    """Peak resident memory of this process (bytes; Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def mean_rates(spikes: dict, n_recorded: dict, t0: float, t1: float) -> dict:
    """Mean rate (Hz) over the recorded neurons of each population in ``[t0, t1)`` ms."""
    out = {}
    for name, (_ids, times) in spikes.items():
        n = n_recorded[name]
        count = np.count_nonzero((times >= t0) & (times < t1))
        out[name] = float(count / n / ((t1 - t0) * 1e-3)) if n else float("nan")
    return out


def store_spikes(run_dir, spec, spikes: dict, n_recorded: dict, t0: float, t1: float) -> dict:
    """Write ``spikes.h5`` into ``run_dir`` and return run.json's ``populations`` entry
    (neurons, recorded neurons, mean rate in ``[t0, t1)`` ms, spike count per population)."""
    from . import rundir

    rundir.write_spikes(
        Path(run_dir) / rundir.SPIKES_FILE,
        spikes,
        {k: int(v) for k, v in zip(spec.populations, spec.n_neurons)},
    )
    rates = mean_rates(spikes, n_recorded, t0, t1)
    return {
        name: {
            "n_neurons": int(spec.n_neurons[i]),
            "n_recorded": int(n_recorded[name]),
            "mean_rate_hz": rates[name],
            "n_spikes": int(spikes[name][0].size),
        }
        for i, name in enumerate(spec.populations)
    }


def simulate(sim, t_total: float, chunks: int, progress, advance=None) -> None:
    """Advance ``sim`` by ``t_total`` ms in up to ``chunks`` steps, reporting each one.

    ``advance(ms)`` moves the simulation on (default ``sim.run``); a platform may pass a
    cheaper one (NEST: one Prepare, Run per chunk, one Cleanup:
    :func:`pynn_microcircuit.platforms.nest.run.chunked_run`)."""
    advance = advance or sim.run
    dt = sim.get_time_step()
    step = max(dt, round(t_total / max(chunks, 1) / dt) * dt)
    t_done = 0.0
    t0 = time.perf_counter()
    while t_done < t_total - 1e-9:
        this = min(step, t_total - t_done)
        advance(this)
        t_done += this
        wall = time.perf_counter() - t0
        progress(t_done, t_total, wall)


#: A population is "silent" below this rate (Hz), and "far from the prediction" outside
#: this factor of its mean-field rate.
SILENT_HZ = 0.01
FAR_FACTOR = 3.0


def activity_check(spec, populations: dict) -> dict:
    """Did the activity collapse? Populations that are silent (mean rate < SILENT_HZ) or whose
    rate is off their mean-field prediction (:func:`pynn_microcircuit.theory.
    self_consistent_rates`, Siegert with the Fourcaud-Brunel correction) by more than
    FAR_FACTOR. Returns ``{"activity_ok", "silent", "far", "activity_note"}``."""
    from .theory import self_consistent_rates

    try:
        predicted = self_consistent_rates(spec)
    except RuntimeError:
        predicted = [float("nan")] * len(spec.populations)
    silent, far = [], []
    for name, pred in zip(spec.populations, predicted):
        rate = populations.get(name, {}).get("mean_rate_hz")
        if rate is None:
            continue
        if rate < SILENT_HZ:
            silent.append(name)
        elif pred > SILENT_HZ and not 1 / FAR_FACTOR <= rate / pred <= FAR_FACTOR:
            far.append(f"{name} {rate:.2g} Hz vs {pred:.2g} Hz predicted")
    note = None
    if silent or far:
        parts = []
        if silent:
            parts.append("silent: " + ", ".join(silent))
        if far:
            parts.append(f"more than x{FAR_FACTOR:g} off the mean-field rate: " + "; ".join(far))
        note = "activity collapsed or far from the prediction - " + " | ".join(parts)
    return {"activity_ok": note is None, "silent": silent, "far": far, "activity_note": note}
