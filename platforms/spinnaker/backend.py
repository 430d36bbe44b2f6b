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
* delays are drawn on the chip (the synapse expander) and put on the time grid by
  truncation: ``rescale_delay`` casts ``delay x steps per ms`` to an integer
  (``neural_modelling/src/synapse_expander/matrix_generator.h``), where NEST (and sPyNNaker's
  own host path, ``synapse_io.py``: ``numpy.rint``) round to the nearest step. On average the
  board's delays would be half a step (0.05 ms) shorter than NEST's. The distribution is
  therefore sent shifted by :data:`DELAY_SHIFT_STEPS` of a step (mean and bounds), so that
  truncation gives the nearest step: ``floor(d/dt + 0.49)``, rounding at 0.51 of a step
  instead of 0.5. The upper bound is not shifted (sPyNNaker sizes the delay slots from it):
  delays within 0.49 of a step below it are redrawn with the tail beyond it
  (``delay_tail_redrawn`` counts both). run.json records it (``delay_rounding``);
* the external Poisson drive is one ``SpikeSourcePoisson`` per population, one-to-one, with
  delay = dt: only then sPyNNaker makes it a *direct* source that shares its target's chip
  and feeds it through SDRAM (a stationary Poisson input's delay has no effect on the
  dynamics).
"""

from __future__ import annotations

from scipy import stats

from pynn_microcircuit.network import PyNNBackend, sign_bounds, substream_seed

from .capacity import Knobs, high_delay_ms
from .readback import population_spikes

#: Finite stand-in for an unbounded weight (nA), encodable in s16.15.
WEIGHT_BOUND_NA = 1000.0
#: Shift of the delay distributions, in time steps, that turns the expander's truncation into
#: rounding to the nearest step (see the module docstring).
DELAY_SHIFT_STEPS = 0.49


def delay_rounding_record(dt_ms: float) -> dict:
    """run.json's ``delay_rounding``: what the board does to a delay and what the host sends."""
    return {
        "board": "truncated to the time step (synapse expander rescale_delay)",
        "host_shift_ms": DELAY_SHIFT_STEPS * dt_ms,
        "effective": f"nearest step, ties at {1 - DELAY_SHIFT_STEPS:.2f} of a step (NEST: 0.5)",
    }


class SpinnakerBackend(PyNNBackend):
    """PyNN building blocks for ``pyNN.spiNNaker``."""

    name = "spynnaker"

    def __init__(self, sim, seed: int, knobs: Knobs, resolution_ms: float):
        super().__init__(sim, seed)
        self.knobs = knobs
        self.dt = resolution_ms
        self.delay_high_ms = high_delay_ms(knobs, resolution_ms)
        self.delay_tail_redrawn: dict = {}

    def _population_kwargs(self, *keys: int) -> dict:
        return {"additional_parameters": {"seed": substream_seed(self.seed, *keys)}}

    def _weight_bounds(self, w_mean: float) -> tuple[float, float]:
        lo, hi = sign_bounds(w_mean)
        return max(lo, -WEIGHT_BOUND_NA), min(hi, WEIGHT_BOUND_NA)

    def _delay_bounds(self, d_min: float) -> tuple[float, float]:
        return max(d_min, self.dt), self.delay_high_ms

    def _random(self, name: str, keys: tuple, **params):
        return self.sim.RandomDistribution(name, **params)  # seeded by the population

    def _delay(self, key: tuple, d: tuple, low: float, high: float):
        shift = DELAY_SHIFT_STEPS * self.dt  # truncation on the chip -> nearest step
        # the upper bound stays: sPyNNaker sizes the delay slots from it (a shifted bound
        # would need one slot more, a delay extension where none may be)
        return super()._delay(key, (d[0] + shift, d[1]), low + shift, high)

    def _connector(self, n: int, keys: tuple, pre=None, post=None):
        # no rng=: sPyNNaker seeds connectivity from the target population's seed
        return self.sim.FixedTotalNumberConnector(int(n), with_replacement=True)

    def _poisson_delay(self, delay_ms: float) -> float:
        return self.dt  # only then the source is "direct" (see the module docstring)

    def spikes(self, pop):
        """Recorded spikes through sPyNNaker's own conversion (see :mod:`.readback`)."""
        return population_spikes(pop, self._record_start_ms)

    def connect(self, pre, post, key: tuple, n: int, w: tuple, d: tuple, d_min: float):
        low, high = self._delay_bounds(d_min)
        high -= DELAY_SHIFT_STEPS * self.dt  # what the shifted draw keeps (see _delay)
        # fraction of the normal delays (redrawn below dt) beyond ``high``, redrawn below it
        self.delay_tail_redrawn[f"{pre.label}->{post.label}"] = float(
            stats.norm.sf((high - d[0]) / d[1]) / max(stats.norm.sf((low - d[0]) / d[1]), 1e-300)
        )
        return super().connect(pre, post, key, n, w, d, d_min)
