"""SpiNNaker's weight arithmetic on NEST: each synaptic weight rounded to the quantum
sPyNNaker would store it with (``rint(|w| / q) q``, sign kept, at most 65535 q: a 16-bit
weight), per target population and synapse type (quanta from
:func:`pynn_microcircuit.platforms.spinnaker.quantisation.quanta_on_virtual_board`).

Covered: the weight resolution of the synaptic matrices, for the recurrent projections and
the external Poisson drive. Not covered: the s16.15 neuron state and its precomputed decay
factors, packet loss, real-time overruns (the provenance of a real run reports those).
"""

from __future__ import annotations

import nest
import numpy as np

MAX_WEIGHT_STEPS = 0xFFFF


def _quantise(w: np.ndarray, q: float) -> np.ndarray:
    steps = np.minimum(np.rint(np.abs(w) / q), MAX_WEIGHT_STEPS)
    return np.sign(w) * steps * q


def _apply(conns, quanta_row: dict) -> dict:
    w = np.asarray(conns.get("weight"), dtype=float)
    if w.size == 0:
        return {}
    q = quanta_row["excitatory" if np.mean(w) >= 0 else "inhibitory"]
    wq = _quantise(w, q)
    conns.set(weight=wq.tolist())
    m1, m2 = float(np.mean(w)), float(np.mean(w**2))
    return {
        "weight_quantum_pA": q,
        "connections": int(w.size),
        "weight_mean_rel_change": float(np.mean(wq)) / m1 - 1 if m1 else 0.0,
        "weight_second_moment_rel_change": float(np.mean(wq**2)) / m2 - 1 if m2 else 0.0,
    }


def quantise_weights(net, quanta: dict) -> dict:
    """Round every weight of ``net`` (a NEST fast-path network) to its quantum; returns per
    projection (``"SRC->TGT"``, ``"poisson->TGT"``) the quantum used and the measured
    relative change of the drawn weights' mean and second moment."""
    out = {}
    for (src, tgt), proj in net.projections.items():
        out[f"{src}->{tgt}"] = _apply(proj.nest_connections, quanta[tgt])
    generators = nest.GetNodes({"model": "poisson_generator"})
    for tgt, pop in net.populations.items():
        conns = nest.GetConnections(source=generators, target=pop.node_collection)
        if len(conns):
            out[f"poisson->{tgt}"] = _apply(conns, quanta[tgt])
    return {k: v for k, v in out.items() if v}
