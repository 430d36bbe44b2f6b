"""Set up ``pyNN.nest`` for a run: threads, seed, resolution, spike precision."""

from __future__ import annotations

import logging
import math
import os

log = logging.getLogger(__name__)

#: NEST stores at most this many connections per thread and synapse type (NEST 3.x).
MAX_CONNECTIONS_PER_THREAD = 134_217_726
#: Margin for the uneven deal of connections over virtual processes (targets are dealt
#: round-robin, so each holds about ``n / vps``): 5 %.
HEADROOM = 1.05


#: Connections that always use plain ``static_synapse``: the Poisson drive and the spike
#: recorder, one each per neuron.
DEVICE_CONNECTIONS_PER_NEURON = 2
#: NEST's compact synapses (``static_synapse_hpc``; Kunkel et al. 2014, Front Neuroinform
#: 8:78, sec. 3.3.2) name their target by its index in its thread's node list, an unsigned
#: short (``targetindex`` in NEST's ``nest_types.h``): at most this many nodes per thread
#: (NEST 3.10 refuses more: "HPC synapses support at most 65534 nodes per thread").
MAX_COMPACT_NODES_PER_THREAD = 65_534
#: Nodes a thread holds besides its share of the neurons: devices (generators, recorders)
#: exist once per thread; the model has 8 + 8 + 1 of them, the rest is margin.
DEVICE_NODES_PER_THREAD = 64
#: The NEST models the fast path's synapse types are or copy: compact where the model
#: allows it.
COMPACT_SYNAPSE, FULL_SYNAPSE = "static_synapse_hpc", "static_synapse"
#: Name stem of the copies (``pd14_hpc_1``, ``pd14_static_1``, ...) of each model.
COPY_STEMS = {COMPACT_SYNAPSE: "pd14_hpc", FULL_SYNAPSE: "pd14_static"}


def connections_per_source(spec) -> dict[str, int]:
    """Recurrent connections leaving each source population (thalamus ``TC`` included)."""
    out = {name: int(x) for name, x in zip(spec.populations, spec.n_synapses.sum(axis=0))}
    if spec.thalamus:
        out["TC"] = int(sum(spec.thalamus["n_synapses"]))
    return out


def largest_synapse_type(spec) -> int:
    """Connections of the largest NEST synapse type at the finest split the fast path makes.

    NEST's limit (:data:`MAX_CONNECTIONS_PER_THREAD`) holds per thread *and synapse type*
    (a connection's index within its thread's connector of one type has 27 bits, NEST's
    ``source_table``/``connector_base``). The fast path can give every source population a
    synapse type of its own (:func:`synapse_types`), so the largest type holds at least one
    source population's outgoing synapses; plain ``static_synapse`` holds the Poisson-drive
    and recorder connections (2 per neuron). The fewest threads a model can run on follow
    from this number (:func:`min_threads`).
    """
    per_source = list(connections_per_source(spec).values())
    return max([*per_source, DEVICE_CONNECTIONS_PER_NEURON * spec.total_neurons])


def compact_misfit(spec, vps: int) -> str:
    """Why NEST's compact ``static_synapse_hpc`` cannot hold ``spec``'s connections on ``vps``
    virtual processes, or ``""`` when it can: neurons (thalamic relay cells included) are
    dealt round-robin over virtual processes, so each thread holds about ``N / vps`` of them
    plus the devices (:data:`MAX_COMPACT_NODES_PER_THREAD`)."""
    nodes = spec.total_neurons + (int(spec.thalamus["n_neurons"]) if spec.thalamus else 0)
    if math.ceil(nodes / vps) + DEVICE_NODES_PER_THREAD <= MAX_COMPACT_NODES_PER_THREAD:
        return ""
    return (
        f"NEST's compact synapses name at most {MAX_COMPACT_NODES_PER_THREAD:,} nodes per "
        f"thread, and {nodes:,} neurons on {vps} thread(s) are more; use more threads or "
        "--synapses full"
    )


def copied_model(model: str) -> str:
    """The NEST model a synapse type of :func:`synapse_types` is (or is a copy of)."""
    for base, stem in COPY_STEMS.items():
        if model == base or model.startswith(stem):
            return base
    return FULL_SYNAPSE


def synapse_types(
    spec, vps: int, headroom: float = HEADROOM, compact: bool = False
) -> dict[str, str]:
    """NEST synapse model for each source population's connections: as few types as keep
    every (virtual process, type) pair under NEST's connection limit.

    With ``compact``, the recurrent and thalamic connections use NEST's
    ``static_synapse_hpc`` (Kunkel et al. 2014, Front Neuroinform 8:78, sec. 3.3): the same
    synapse as ``static_synapse`` (weight, delay, receptor port 0, where ``iaf_psc_exp``
    takes both signs; the same spikes, tested) with its target named by a 2-byte index into
    the target thread's nodes instead of a pointer and a port, so it is stored in 16 bytes
    instead of 32. Measured here: 23 instead of 38 bytes per connection in all (10 M
    connections, 2 threads); at full scale on 2 threads peak memory 10.32 GB instead of
    15.10, build 0.77x, but simulation 1.30x (2 runs each; a later run 255.5 s against
    206-244 s; alike at n = k = 0.2, 8 runs each). A cpu-clock profile at full scale puts
    the extra time in the dispatch to the target (``SpikeEvent::operator()`` 16 % of the
    samples against 10 % with plain synapses), which first looks the index up in the
    thread's node table: one more dependent memory access per delivered spike. It needs
    :func:`compact_misfit` to be empty.
    Otherwise plain ``static_synapse``, as plain PyNEST; the Poisson drive and the
    recorders always use it.
    When one type would exceed the limit, source populations are packed first-fit
    decreasing into copies (``pd14_static_1``, ... or ``pd14_hpc_1``, ...; made with
    ``nest.CopyModel`` by :class:`pynn_microcircuit.platforms.nest.fastpath.NestBackend`
    before any neuron exists: a copy made after the neurons costs memory in proportion to
    them, measured 10 MB at n = k = 0.2 against 1-5 MB when made first). Each type may hold
    ``vps x MAX_CONNECTIONS_PER_THREAD / headroom`` connections (connections live on their
    target's virtual process, targets are dealt round-robin; ``headroom`` covers the uneven
    deal, as in :func:`min_threads`).

    Parameters
    ----------
    spec : ModelSpec
    vps : int
        Virtual processes (MPI ranks x threads).
    headroom : float
    compact : bool
        Compact (``static_synapse_hpc``) connections.

    Returns
    -------
    dict
        Source population label -> NEST synapse model name.
    """
    misfit = compact_misfit(spec, vps) if compact else ""
    if misfit:
        raise ValueError(misfit)
    cap = vps * MAX_CONNECTIONS_PER_THREAD / headroom
    base = COMPACT_SYNAPSE if compact else FULL_SYNAPSE
    names = [base]
    # the devices' connections share plain static_synapse's limit
    loads = [0 if compact else DEVICE_CONNECTIONS_PER_NEURON * spec.total_neurons]
    out = {}
    for label, n in sorted(connections_per_source(spec).items(), key=lambda kv: -kv[1]):
        if n > cap:
            raise ValueError(
                f"{label}'s {n:,} connections exceed NEST's limit on {vps} virtual process(es); "
                f"run on at least {min_threads(n, headroom)} threads"
            )
        k = next((i for i, load in enumerate(loads) if load + n <= cap), None)
        if k is None:
            k = len(names)
            names.append(f"{COPY_STEMS[base]}_{k}")
            loads.append(0)
        loads[k] += n
        out[label] = names[k]
    return out


def min_threads(n_connections: int, headroom: float = HEADROOM) -> int:
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
