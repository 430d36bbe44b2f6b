"""Set up ``pyNN.nest`` for a run: threads, seed, resolution, spike precision."""

from __future__ import annotations

import logging
import math
import os

log = logging.getLogger(__name__)

#: NEST stores at most this many connections per thread and synapse type (NEST 3.x).
MAX_CONNECTIONS_PER_THREAD = 134_217_726


def min_threads(n_connections: int, headroom: float = 1.05) -> int:
    """Fewest virtual processes that keep every thread under NEST's connection limit.

    Connections are stored on the thread of their target neuron; targets are spread
    round-robin over virtual processes, so each holds about ``n / vps`` of them. ``headroom``
    covers the uneven spread (5 %).
    """
    return max(1, math.ceil(n_connections * headroom / MAX_CONNECTIONS_PER_THREAD))


def choose_threads(n_connections: int, requested: int | None = None) -> tuple[int, str | None]:
    """Threads for a run and, when they differ from what was asked, the reason (one line)."""
    need = min_threads(n_connections)
    want = requested if requested else (os.cpu_count() or 1)
    if want >= need:
        return want, None
    return need, (
        f"using {need} threads instead of {want}: NEST holds at most "
        f"{MAX_CONNECTIONS_PER_THREAD:,} connections per thread and this model has "
        f"{n_connections:,}"
    )


def setup(resolution_ms: float, seed: int, threads: int):
    """``pyNN.nest.setup`` for the microcircuit; returns the PyNN module.

    On-grid spikes (``iaf_psc_exp``, as the reference implementation; PyNN's default
    ``off_grid`` silently switches to ``iaf_psc_exp_ps``), NEST's own RNG seeded with a
    substream of ``seed`` (NEST refuses 0; any seed >= 0 works here).
    Delay extrema are left to NEST ('auto'): a fixed ``max_delay`` sizes every neuron's ring
    buffers (PyNN's default 10 ms, or 100 ms, cost hundreds of MB at n = 0.2).
    """
    import pyNN.nest as sim

    from pynn_microcircuit.network import substream_seed

    sim.setup(
        timestep=resolution_ms,
        min_delay="auto",
        max_delay="auto",
        threads=threads,
        rng_seed=substream_seed(seed, 0x4E57),  # 'NE'ST
        spike_precision="on_grid",
        verbosity="error",
    )
    return sim
