"""Capacity model of the NEST path: memory, threads and wall time a ModelSpec needs.

Linear models calibrated with ``benchmarks/calibrate_nest_capacity.py`` on the project's own
runs (2 cores, 2 threads, NEST 3.10 from PyPI, PyNN 0.13):

* peak memory ``a + b N + c S + 48 B x expected spikes`` (N neurons, S synapses; spikes kept
  in NEST's memory recorder and copied once when read back); c is 40 bytes for plain
  ``static_synapse``, 24 for compact ``static_synapse_hpc`` (fitted separately, as are
  build and simulation factors: :meth:`NestCapacity.for_synapses`);
* build time ``b S^beta`` (s; S synapses);
* simulation wall time per simulated second ``c E^gamma``, E the synaptic events per
  simulated second (recurrent synapses x source rate + external Poisson events): a power law,
  because the cost per event falls with size on this machine (gamma = 0.78; a linear model
  in N and E was 21-24 % short at n = 0.29-0.32 and 10 % long at full scale);
* the process around them (interpreter, NEST and PyNN start, spike read-back and writing):
  ``p0 + p1 x spikes``;
* the analysis at the end of a run (statistics, figures, report), unless ``--no-analysis``:
  ``a0 + a1 x recorded neurons``.

Threads beyond the machine's cores do not speed anything up and cost a measured factor
(:data:`OVERSUBSCRIPTION_PENALTY`); more threads up to the core count divide the build and
simulation terms (NEST scales close to linearly there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.runner import DEFAULT_T_PRESIM_MS, DEFAULT_T_SIM_MS, SYNAPSE_CHOICES
from pynn_microcircuit.scaling import ModelSpec

from .setup import compact_misfit, largest_synapse_type, min_threads

#: Fitted 2026-11-28 on 7 runs (n = k = 0.05, 0.1, 0.2, 0.3; n = 0.1, 0.25 with k = 1; full
#: scale), ``benchmarks/calibrate_nest_capacity.py``: memory within 0.1 % at every point.
#: Plain ``static_synapse`` connections (``--synapses full``).
MEMORY_COEF = (1.588e8, 3.932e4, 40.08)  # bytes, bytes/neuron, bytes/synapse
#: Wall-time terms refitted 2026-11-29 (log-log least squares, ``calibrate_nest_capacity.py
#: --extra-run``) on 21 idle 2-thread runs of this machine: 12 at n = k = 0.1, 3 at 0.17, 0.29,
#: 0.32, 0.38, 0.82 and 2 at full scale. Simulation within -14 % .. +15 % at every point,
#: build within -8 % .. +28 % (-8 % .. +3 % above 20 s).
BUILD_COEF = (2.535e-7, 1.0455)  # s, exponent of S (2 threads)
SIM_COEF = (8.977e-6, 0.7778)  # s per simulated s, exponent of E (2 threads)
#: Compact ``static_synapse_hpc`` connections (``--synapses compact``): memory fitted
#: 2026-11-29 on the same 6 points (``calibrate_nest_capacity.py --synapses compact``) and
#: 2 full-scale runs (``benchmarks/project_nest.py 1.0 1000 2``): within 0.2 % at every point.
COMPACT_MEMORY_COEF = (1.508e8, 3.910e4, 24.00)  # bytes, bytes/neuron, bytes/synapse
#: Compact against plain synapses at full scale, 2 threads, the same session (2 runs each):
#: build 123.3, 138.6 s against 167.2, 172.9 s (0.77x); simulation 294.8, 297.2 s against
#: 213.8, 240.6 s (1.30x; at n = k = 0.2 the two simulate alike, 8 runs each, so this
#: over-predicts small compact runs).
COMPACT_BUILD_FACTOR, COMPACT_SIM_FACTOR = 0.77, 1.30
#: Process overhead: 2.4-2.8 s measured with /usr/bin/time beyond build + simulate for runs
#: with up to 0.1 M spikes, 5.6 s with 0.4 M (n = 0.82, 1.5 s).
PROCESS_COEF = (2.5, 8e-6)  # s, s/spike
#: Analysis: 23 s (n = 0.1, 7.7 k neurons recorded, 2 s), 42 s (n = 0.38, 29 k, 1 s), 52 s
#: (n = 0.82, 63 k, 1 s) -> least squares, within -13 % .. +14 %.
ANALYSIS_COEF = (22.7, 4.9e-4)  # s, s/recorded neuron
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

    @classmethod
    def for_synapses(cls, compact: bool) -> NestCapacity:
        """The fitted model of runs with compact (``static_synapse_hpc``) or plain
        ``static_synapse`` connections."""
        if not compact:
            return cls()
        build = (BUILD_COEF[0] * COMPACT_BUILD_FACTOR, BUILD_COEF[1])
        return cls(COMPACT_MEMORY_COEF, build, (SIM_COEF[0] * COMPACT_SIM_FACTOR, SIM_COEF[1]))

    def memory_bytes(self, neurons: float, synapses: float, spikes: float) -> float:
        a, b, c = self.memory_coef
        return a + b * neurons + c * synapses + BYTES_PER_SPIKE * spikes

    def wall_s(
        self,
        synapses,
        events_per_s,
        t_total_s,
        threads,
        spikes: float = 0.0,
        recorded: float | None = None,
    ) -> float:
        """Whole-process wall time (s): build, simulation of ``t_total_s`` (s), the process
        overhead for ``spikes`` recorded spikes and, when ``recorded`` (neurons) is given,
        the analysis."""
        cores = os.cpu_count() or 1
        speed = min(threads, cores) / CALIBRATION_THREADS
        b, beta = self.build_coef
        c, gamma = self.sim_coef
        build = b * synapses**beta / speed
        sim = c * events_per_s**gamma / speed * t_total_s
        # more threads than cores (forced by NEST's connection limit) cost extra
        penalty = OVERSUBSCRIPTION_PENALTY if threads > cores else 1.0
        rest = PROCESS_COEF[0] + PROCESS_COEF[1] * spikes
        if recorded is not None:
            rest += ANALYSIS_COEF[0] + ANALYSIS_COEF[1] * recorded
        return (build + sim) * penalty + rest


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


def uses_compact(
    spec: ModelSpec,
    threads: int,
    synapses: str = "auto",
    t_sim_ms: float = DEFAULT_T_SIM_MS,
    memory_budget: float | None = None,
) -> bool:
    """Whether a NEST run of ``spec`` on ``threads`` virtual processes stores its connections
    as compact ``static_synapse_hpc`` (:func:`pynn_microcircuit.platforms.nest.setup.synapse_types`).

    ``auto`` keeps plain ``static_synapse`` (the faster simulation) unless the run is
    predicted to need more memory with it than this machine offers a run
    (:func:`pynn_microcircuit.machine.fits_memory`) or than ``memory_budget`` (bytes, with
    the planner's margin) allows, and compact synapses fit
    (:func:`pynn_microcircuit.platforms.nest.setup.compact_misfit`). ``t_sim_ms``
    (ms of recorded model time) sizes the prediction's spike term.

    Raises
    ------
    UserError
        ``compact`` asked for where NEST cannot hold it, or an unknown choice.
    """
    from pynn_microcircuit.budget import fits
    from pynn_microcircuit.machine import fits_memory

    if synapses not in SYNAPSE_CHOICES:
        raise UserError(f"--synapses must be one of {', '.join(SYNAPSE_CHOICES)}, not {synapses!r}")
    misfit = compact_misfit(spec, threads)
    if synapses == "compact" and misfit:
        raise UserError(f"--synapses compact: {misfit}")
    if synapses != "auto" or misfit:
        return synapses == "compact"
    spikes_s, _ = expected_activity(spec)
    full = NestCapacity.for_synapses(False).memory_bytes(
        spec.total_neurons, spec.total_synapses, spikes_s * t_sim_ms * 1e-3
    )
    within_budget = memory_budget is None or fits({"memory": full}, {"memory": memory_budget})
    return not (fits_memory(full) and within_budget)


def predict(
    spec: ModelSpec,
    threads: int | None = None,
    t_presim_ms: float = DEFAULT_T_PRESIM_MS,
    t_sim_ms: float = DEFAULT_T_SIM_MS,
    model: NestCapacity | None = None,
    analysis: bool = False,
    record_fraction: float = 1.0,
    synapses: str = "auto",
    memory_budget: float | None = None,
) -> dict:
    """Predicted ``memory`` (bytes), ``threads`` (at least NEST's minimum) and ``walltime`` (s,
    the whole process; with ``analysis`` the report at the end included), and under
    ``settings`` the synapse storage they assume (:func:`uses_compact`; ``memory_budget``,
    bytes, is the budget's memory limit, which ``auto`` also respects)."""
    th = max(threads or (os.cpu_count() or 1), min_threads(largest_synapse_type(spec)))
    compact = uses_compact(spec, th, synapses, t_sim_ms, memory_budget)
    model = model or NestCapacity.for_synapses(compact)
    spikes_s, events_s = expected_activity(spec)
    spikes = spikes_s * t_sim_ms * 1e-3
    t_total = (t_presim_ms + t_sim_ms) * 1e-3
    return {
        "memory": model.memory_bytes(spec.total_neurons, spec.total_synapses, spikes),
        "threads": th,
        "walltime": model.wall_s(
            spec.total_synapses,
            events_s,
            t_total,
            th,
            spikes=spikes * record_fraction,
            recorded=spec.total_neurons * record_fraction if analysis else None,
        ),  # fmt: skip
        "settings": {"synapses": "compact" if compact else "full"},
    }
