"""PyNN's generic route on NEURON, with connectivity that does not depend on the ranks."""

from __future__ import annotations

import numpy as np

from pynn_microcircuit.network import PyNNBackend, substream_seed


class NeuronBackend(PyNNBackend):
    """:class:`~pynn_microcircuit.network.PyNNBackend` whose connections, under MPI, are drawn
    whole on every rank.

    PyNN 0.13's ``FixedTotalNumberConnector`` is not exact in parallel
    (``pyNN/connectors.py``, ``FixedTotalNumberConnector.connect``: the total is split over
    the ranks by sequential binomials assuming ``int(N / ranks)`` targets each, and the last
    draw does not take the remainder; measured: 119,319 of 119,646 synapses at n = k = 0.02 on
    2 ranks). Under MPI each projection is therefore drawn here as ``n`` uniform (source,
    target) pairs with replacement - the same distribution - from one seeded stream on every
    rank, and given to ``FromListConnector``, which makes the local ones: exact counts, and
    the same network for any number of ranks. In one process PyNN's connector is used (the
    capacity model was measured with it).
    """

    name = "pynn-neuron"

    def _connector(self, n: int, keys: tuple, pre=None, post=None):
        if pre is None or int(self.sim.num_processes()) == 1:
            return super()._connector(n, keys, pre, post)
        rng = np.random.default_rng(substream_seed(self.seed, *keys))
        pairs = np.column_stack(
            [rng.integers(0, pre.size, int(n)), rng.integers(0, post.size, int(n))]
        )
        return self.sim.FromListConnector(pairs.astype(float))
