"""SpiNNaker's weight arithmetic on NEST: each synaptic weight rounded to the quantum
sPyNNaker would store it with (``rint(|w| / q) q``, sign kept, at most 65535 q: a 16-bit
weight), per target population and synapse type (quanta from
:func:`pynn_microcircuit.platforms.spinnaker.quantisation.quanta_on_virtual_board`).

Covered: the weight resolution of the synaptic matrices, for the recurrent projections and
the external Poisson drive. Not covered: the s16.15 neuron state and its precomputed decay
factors, packet loss, real-time overruns (the provenance of a real run reports those).

**How the weights are made.** An emulated run draws each projection's weights with NumPy
(the same normal, redrawn until it keeps the sign of its mean, as the exact run's NEST
parameter), rounds them, and hands NEST the array in ``Connect`` (:class:`WeightQuantiser`).
Reading NEST's own draws back to round them cost ~12 us and ~3 kB per connection
(``SynapseCollection.get`` builds a status dictionary per connection; measured with NEST
3.10 on 1 M connections), i.e. about an hour and far more memory than the model at full
scale. NEST 3.10 reads a ``fixed_total_number`` weight array from its start on every virtual
process (12 weights 1..12 on 2 threads gave 1, 1, 2, 2, 3, 3, 4, ..., 9), so with T virtual
processes up to T connections share one drawn value; every connection's weight is still a
draw of the truncated normal, and the inputs of one neuron (all made by its own virtual
process) are distinct draws.
"""

from __future__ import annotations

import numpy as np

from pynn_microcircuit.network import receptor_of, sign_bounds

MAX_WEIGHT_STEPS = 0xFFFF


def _quantise(w: np.ndarray, q: float) -> np.ndarray:
    """``rint(|w| / q) q`` with the sign of ``w``, at most ``MAX_WEIGHT_STEPS`` q; one new
    array (a full-scale projection's 45.5 M weights hold 364 MB each)."""
    steps = np.abs(w)
    steps /= q
    np.rint(steps, out=steps)
    np.minimum(steps, MAX_WEIGHT_STEPS, out=steps)
    steps *= q
    return np.copysign(steps, w, out=steps)


def _sign_truncated_normal(rng, mean: float, sd: float, n: int) -> np.ndarray:
    """``n`` normal draws (pA), each redrawn until it lies in
    :func:`pynn_microcircuit.network.sign_bounds` (as NEST's
    ``nest.math.redraw(nest.random.normal(mean, sd), min=lo, max=hi)`` of the exact run)."""
    lo, hi = sign_bounds(mean)
    w = rng.normal(mean, sd, n)
    while (bad := (w < lo) | (w > hi)).any():
        w[bad] = rng.normal(mean, sd, int(bad.sum()))
    return w


def _moments(w: np.ndarray) -> tuple[float, float]:
    """Mean and second moment, without a temporary array of the size of ``w``."""
    return float(np.mean(w)), float(np.dot(w, w)) / w.size


def _change(w: np.ndarray, wq: np.ndarray, q: float) -> dict:
    (m1, m2), (q1, q2) = _moments(w), _moments(wq)
    return {
        "weight_quantum_pA": q,
        "connections": int(w.size),
        "weight_mean_rel_change": q1 / m1 - 1 if m1 else 0.0,
        "weight_second_moment_rel_change": q2 / m2 - 1 if m2 else 0.0,
    }


class WeightQuantiser:
    """Rounded weights for an emulated run, and what rounding changed.

    Parameters
    ----------
    quanta : dict
        ``{target population: {"excitatory": pA, "inhibitory": pA}}``.
    seed : int
        The run's seed; each projection's draws come from ``numpy.random.default_rng((seed,
        10, *key))`` with the builder's projection key.

    Attributes
    ----------
    projections : dict
        Per projection (``"SRC->TGT"``, ``"poisson->TGT"``) the quantum used and the relative
        change of the drawn weights' mean and second moment (run.json ``emulation``).
    """

    def __init__(self, quanta: dict, seed: int):
        self.quanta = quanta
        self.seed = int(seed)
        self.projections: dict = {}

    def _quantum(self, target: str, mean: float) -> float:
        return float(self.quanta[target][receptor_of(mean)])

    def weights(self, key: tuple, source: str, target: str, n: int, mean: float, sd: float):
        """``n`` rounded weights (pA) of the projection ``source -> target``."""
        rng = np.random.default_rng((self.seed, 10, *key))
        w = _sign_truncated_normal(rng, mean, sd, n)
        q = self._quantum(target, mean)
        wq = _quantise(w, q)
        self.projections[f"{source}->{target}"] = _change(w, wq, q)
        return wq

    def constant(self, target: str, weight: float, n: int) -> float:
        """The rounded value of a constant weight (the Poisson drive of ``n`` neurons)."""
        q = self._quantum(target, weight)
        w = np.array([weight])
        wq = _quantise(w, q)
        self.projections[f"poisson->{target}"] = {**_change(w, wq, q), "connections": int(n)}
        return float(wq[0])
