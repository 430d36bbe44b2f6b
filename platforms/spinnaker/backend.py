"""The model's building blocks as sPyNNaker wants them.

Differences from the generic PyNN route (:class:`pynn_microcircuit.network.PyNNBackend`), each
forced by sPyNNaker 7.4.1:

* random distributions and connectors take no ``rng=``; all randomness is seeded through the
  populations (``seed=``, a substream of the run seed each);
* distribution bounds must be finite (they are encoded as s16.15 fixed point): weights are
  redrawn within their sign and +-1000 nA (never reached), delays within ``[dt, high]`` with
  ``high`` the longest delay the neuron core (and its delay extensions) can hold -- with
  extensions off, the tail beyond the core's slots is redrawn (its fraction per projection
  is recorded in run.json as ``delay_tail_redrawn``);
* the external Poisson drive is one ``SpikeSourcePoisson`` per population, one-to-one, with
  delay = dt: only then sPyNNaker makes it a *direct* source that shares its target's chip
  and feeds it through SDRAM (a stationary Poisson input's delay has no effect on the
  dynamics).
"""

from __future__ import annotations

from scipy import stats

from pynn_microcircuit.network import PyNNBackend, receptor_of, sign_bounds, substream_seed

from .capacity import Knobs, high_delay_ms

#: Finite stand-in for an unbounded weight (nA), encodable in s16.15.
WEIGHT_BOUND_NA = 1000.0


class SpinnakerBackend(PyNNBackend):
    """PyNN building blocks for ``pyNN.spiNNaker``."""

    name = "spynnaker"

    def __init__(self, sim, seed: int, knobs: Knobs, resolution_ms: float):
        super().__init__(sim, seed)
        self.knobs = knobs
        self.dt = resolution_ms
        self.delay_high_ms = high_delay_ms(knobs, resolution_ms)
        self.delay_tail_redrawn: dict = {}

    def create_population(self, index: int, size: int, params: dict, label: str, v0: tuple):
        sim = self.sim
        return sim.Population(
            int(size),
            sim.IF_curr_exp(**params),
            label=label,
            initial_values={"v": sim.RandomDistribution("normal", v0)},
            additional_parameters={"seed": substream_seed(self.seed, 1, index)},
        )

    def connect(self, pre, post, key: tuple, n: int, w: tuple, d: tuple, d_min: float):
        sim = self.sim
        w_mean, w_sd = w
        lo, hi = sign_bounds(w_mean)
        lo, hi = max(lo, -WEIGHT_BOUND_NA), min(hi, WEIGHT_BOUND_NA)
        weight = sim.RandomDistribution(
            "normal_clipped", mu=w_mean * 1e-3, sigma=w_sd * 1e-3, low=lo, high=hi
        )
        low = max(d_min, self.dt)
        high = self.delay_high_ms
        # fraction of the normal delays (redrawn below dt) beyond ``high``, redrawn below it
        self.delay_tail_redrawn[f"{pre.label}->{post.label}"] = float(
            stats.norm.sf((high - d[0]) / d[1]) / max(stats.norm.sf((low - d[0]) / d[1]), 1e-300)
        )
        delay = sim.RandomDistribution("normal_clipped", mu=d[0], sigma=d[1], low=low, high=high)
        # no rng=: sPyNNaker seeds connectivity from the target population's seed
        connector = sim.FixedTotalNumberConnector(int(n), with_replacement=True)
        return sim.Projection(
            pre,
            post,
            connector,
            sim.StaticSynapse(weight=weight, delay=delay),
            receptor_type=receptor_of(w_mean),
        )

    def poisson_drive(self, pop, index: int, rate_hz: float, weight_pA: float, delay_ms: float):
        sim = self.sim
        src = sim.Population(
            pop.size,
            sim.SpikeSourcePoisson(rate=float(rate_hz)),
            label=f"{pop.label}_poisson",
            additional_parameters={"seed": substream_seed(self.seed, 3, index)},
        )
        return sim.Projection(
            src,
            pop,
            sim.OneToOneConnector(),
            sim.StaticSynapse(weight=weight_pA * 1e-3, delay=self.dt),
            receptor_type="excitatory",
        )

    def thalamus(self, th: dict):
        sim = self.sim
        return sim.Population(
            int(th["n_neurons"]),
            sim.SpikeSourcePoisson(
                rate=th["rate_hz"], start=th["start_ms"], duration=th["duration_ms"]
            ),
            label="TC",
            additional_parameters={"seed": substream_seed(self.seed, 4)},
        )
