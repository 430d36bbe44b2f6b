"""Capacity model of the NEST path: memory, threads and wall time a ModelSpec needs.

Linear models calibrated with ``benchmarks/calibrate_nest_capacity.py`` on the project's own
runs (2 cores, 2 threads, NEST 3.10 from PyPI, PyNN 0.13):

* peak memory ``a + b N + c S + 48 B x expected spikes`` (N neurons, S synapses; spikes kept
  in NEST's memory recorder and copied once when read back);
* build time ``b0 + b1 S``;
* simulation wall time per simulated second ``s0 + s1 N + s2 E``, E the synaptic events per
  simulated second (recurrent synapses x source rate + external Poisson events).

Threads beyond the machine's cores do not speed anything up and cost a measured factor
(:data:`OVERSUBSCRIPTION_PENALTY`); more threads up to the core count divide the build and
simulation terms (NEST scales close to linearly there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pynn_microcircuit.scaling import ModelSpec

from .setup import largest_synapse_type, min_threads

#: Fitted 2026-11-28 on 7 runs (n = k = 0.05, 0.1, 0.2, 0.3; n = 0.1, 0.25 with k = 1; full
#: scale), ``benchmarks/calibrate_nest_capacity.py``: memory within 0.1 % at every point.
#: The wall-time terms are rougher (sim within ~30 % at 2 threads, full scale on 3 threads over
#: 2 cores ran 1.8x slower than predicted): treat ``walltime`` as an estimate.
MEMORY_COEF = (1.588e8, 3.932e4, 40.08)  # bytes, bytes/neuron, bytes/synapse
BUILD_COEF = (0.048, 2.94e-7)  # s, s/synapse (2 threads)
SIM_COEF = (0.0, 5.46e-4, 1.757e-8)  # s, s/neuron, s/event (2 threads, per simulated second)
CALIBRATION_THREADS = 2
#: Wall-time factor when NEST needs more threads than there are cores: the full-scale run
#: (3 threads forced on 2 cores; build 116 s + 225 s for 1.5 s) took 1.6x its prediction. One
#: measurement on an idle machine: a rough factor.
OVERSUBSCRIPTION_PENALTY = 1.6
BYTES_PER_SPIKE = 48


@dataclass(frozen=True)
class NestCapacity:
    """Resource predictions from fitted coefficients."""

    memory_coef: tuple = MEMORY_COEF
    build_coef: tuple = BUILD_COEF
    sim_coef: tuple = SIM_COEF

    def memory_bytes(self, neurons: float, synapses: float, spikes: float) -> float:
        a, b, c = self.memory_coef
        return a + b * neurons + c * synapses + BYTES_PER_SPIKE * spikes

    def wall_s(self, neurons, synapses, events_per_s, t_total_s, threads) -> float:
        cores = os.cpu_count() or 1
        speed = min(threads, cores) / CALIBRATION_THREADS
        b0, b1 = self.build_coef
        s0, s1, s2 = self.sim_coef
        build = b0 + b1 * synapses / speed
        sim = (s0 + (s1 * neurons + s2 * events_per_s) / speed) * t_total_s
        # more threads than cores (forced by NEST's connection limit) cost extra
        penalty = OVERSUBSCRIPTION_PENALTY if threads > cores else 1.0
        return (build + sim) * penalty


def synaptic_events_per_s(n_synapses, n_neurons, ext_rate_hz, rates_hz) -> float:
    """Spikes delivered per simulated second: ``sum_ij S_ij nu_j + sum_i N_i R_ext,i``."""
    nu = np.asarray(rates_hz, float)
    return float(
        (np.asarray(n_synapses, float) * nu[None, :]).sum() + np.dot(n_neurons, ext_rate_hz)
    )


def expected_activity(spec: ModelSpec, rates_hz=None) -> tuple[float, float]:
    """(spikes per simulated second, synaptic events per simulated second) of ``spec``."""
    nu = np.asarray(spec.rates_for_compensation_hz if rates_hz is None else rates_hz, float)
    spikes = float(np.dot(spec.n_neurons, nu))
    events = synaptic_events_per_s(spec.n_synapses, spec.n_neurons, spec.ext_rate_hz, nu)
    return spikes, events


def predict(
    spec: ModelSpec,
    threads: int | None = None,
    t_presim_ms: float = 500.0,
    t_sim_ms: float = 1000.0,
    model: NestCapacity | None = None,
) -> dict:
    """Predicted ``memory`` (bytes), ``threads`` (at least NEST's minimum) and ``walltime`` (s)."""
    model = model or NestCapacity()
    th = max(threads or (os.cpu_count() or 1), min_threads(largest_synapse_type(spec)))
    spikes_s, events_s = expected_activity(spec)
    spikes = spikes_s * t_sim_ms * 1e-3
    t_total = (t_presim_ms + t_sim_ms) * 1e-3
    return {
        "memory": model.memory_bytes(spec.total_neurons, spec.total_synapses, spikes),
        "threads": th,
        "walltime": model.wall_s(spec.total_neurons, spec.total_synapses, events_s, t_total, th),
    }
