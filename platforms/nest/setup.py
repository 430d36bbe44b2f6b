"""Set up ``pyNN.nest`` for a run: threads, seed, resolution, spike precision."""

from __future__ import annotations

import logging
import math
import os

log = logging.getLogger(__name__)

#: NEST stores at most this many connections per thread and synapse type (NEST 3.x).
MAX_CONNECTIONS_PER_THREAD = 134_217_726


def largest_synapse_type(spec) -> int:
    """Connections of the model's most used NEST synapse type, as the fast path builds it.

    NEST's limit (:data:`MAX_CONNECTIONS_PER_THREAD`) holds per thread *and synapse type*
    (a connection's index within its thread's connector of one type has 27 bits, NEST's
    ``source_table``/``connector_base``). The fast path gives every source population a copy
    of ``static_synapse`` of its own (:func:`pynn_microcircuit.platforms.nest.fastpath.synapse_model_for`), so
    the largest type holds one source population's outgoing synapses; plain
    ``static_synapse`` holds the Poisson-drive and recorder connections (2 per neuron).
    """
    per_source = [int(x) for x in spec.n_synapses.sum(axis=0)]
    if spec.thalamus:
        per_source.append(int(sum(spec.thalamus["n_synapses"])))
    return max([*per_source, 2 * spec.total_neurons])


def min_threads(n_connections: int, headroom: float = 1.05) -> int:
    """Fewest virtual processes that keep every thread under NEST's connection limit for a
    synapse type with ``n_connections`` connections (:func:`largest_synapse_type`).

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
        f"{MAX_CONNECTIONS_PER_THREAD:,} connections per thread and synapse type, and this "
        f"model's largest synapse type has {n_connections:,}"
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
