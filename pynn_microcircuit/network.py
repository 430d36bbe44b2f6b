"""Build a :class:`~pynn_microcircuit.scaling.ModelSpec` with the PyNN API.

This is the only module that describes the model to PyNN. Backend-specific fast paths live in
``platforms/`` behind the small :class:`Backend` interface; :class:`PyNNBackend` is the generic
route that works with any PyNN backend module (``pyNN.nest``, ``pyNN.mock``, ``pyNN.spiNNaker``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .scaling import ModelSpec
from .seeds import seed_word

log = logging.getLogger(__name__)


def cell_parameters(spec: ModelSpec, i: int) -> dict:
    """PyNN ``IF_curr_exp`` parameters (PyNN units: nF, nA, mV, ms) of population ``i``."""
    nr = spec.neuron
    return {
        "cm": nr["C_m_pF"] * 1e-3,
        "tau_m": nr["tau_m_ms"],
        "v_rest": nr["E_L_mV"],
        "v_reset": nr["V_reset_mV"],
        "v_thresh": nr["V_th_mV"],
        "tau_refrac": nr["t_ref_ms"],
        "tau_syn_E": nr["tau_syn_ms"],
        "tau_syn_I": nr["tau_syn_ms"],
        "i_offset": float(spec.dc_pA[i]) * 1e-3,
    }


def sign_bounds(w_mean: float) -> tuple[float, float]:
    """Redraw interval that keeps a weight's sign: [0, inf) if ``w_mean >= 0`` else (-inf, 0]."""
    return (0.0, np.inf) if w_mean >= 0 else (-np.inf, 0.0)


def receptor_of(w_mean: float) -> str:
    """PyNN receptor type of a current-based weight of this sign."""
    return "excitatory" if w_mean >= 0 else "inhibitory"


def substream_seed(seed: int, *keys: int) -> int:
    """A reproducible 31-bit seed (1 ... 2**31 - 1) for one random choice, derived from the run
    seed and keys: NumPy's ``SeedSequence([seed, *keys])`` first state word modulo
    2**31 - 1, plus 1, computed by :func:`pynn_microcircuit.seeds.seed_word` (the same
    numbers without importing ``numpy.random``)."""
    return seed_word([int(seed), *[int(k) for k in keys]]) % (2**31 - 1) + 1


class PyNNBackend:
    """The generic PyNN route for every building block.

    Parameters
    ----------
    sim : module
        A PyNN backend module, already ``setup()``.
    seed : int
        Master seed; every random choice draws from a :func:`substream_seed` of it.
    """

    name = "pynn"

    def __init__(self, sim, seed: int):
        self.sim = sim
        self.seed = seed
        self._record_start_ms = 0.0

    def _rng(self, *keys: int):
        return self.sim.NumpyRNG(seed=substream_seed(self.seed, *keys))

    # Hooks a platform backend overrides: how random values, bounds, connectors and
    # population seeds are expressed (e.g. sPyNNaker takes no rng= and only finite bounds).
    def _random(self, name: str, keys: tuple, **params):
        return self.sim.RandomDistribution(name, rng=self._rng(*keys), **params)

    def _population_kwargs(self, *keys: int) -> dict:
        return {}

    def _delay_bounds(self, d_min: float) -> tuple[float, float]:
        """Delays are redrawn outside these (ms): ``d_min`` raised to PyNN's min_delay (the
        time step where the backend leaves it ``"auto"``, as ``pyNN.mock`` does)."""
        min_delay = self.sim.get_min_delay()
        if not isinstance(min_delay, (int, float)):
            min_delay = self.sim.get_time_step()
        return max(d_min, float(min_delay)), np.inf

    def _weight_bounds(self, w_mean: float) -> tuple[float, float]:
        return sign_bounds(w_mean)

    def _delay(self, key: tuple, d: tuple, low: float, high: float):
        """The delay distribution (ms) of projection ``key``: normal ``d`` = (mean, sd),
        redrawn outside ``[low, high]``."""
        return self._random("normal_clipped", (3, *key), mu=d[0], sigma=d[1], low=low, high=high)

    def _connector(self, n: int, keys: tuple, pre=None, post=None):
        """``n`` synapses between ``pre`` and ``post``, drawn with replacement."""
        return self.sim.FixedTotalNumberConnector(
            int(n), with_replacement=True, rng=self._rng(*keys)
        )

    def _poisson_delay(self, delay_ms: float) -> float:
        return delay_ms

    def create_population(self, index: int, size: int, params: dict, label: str, v0: tuple):
        sim = self.sim
        v_init = self._random("normal", (1, index), mu=v0[0], sigma=v0[1])
        return sim.Population(
            int(size),
            sim.IF_curr_exp(**params),
            label=label,
            initial_values={"v": v_init},
            **self._population_kwargs(1, index),
        )

    def connect(self, pre, post, key: tuple, n: int, w: tuple, d: tuple, d_min: float):
        """Connect ``n`` synapses drawn with replacement; weight ``w`` and delay ``d`` are
        (mean, sd) in pA and ms; weights redrawn to keep their sign, delays redrawn outside
        :meth:`_delay_bounds`."""
        sim = self.sim
        w_mean, w_sd = w
        # PyNN wants current-based inhibitory weights negative (nA): redraw within the sign
        lo, hi = self._weight_bounds(w_mean)
        weight = self._random(
            "normal_clipped", (2, *key), mu=w_mean * 1e-3, sigma=w_sd * 1e-3, low=lo, high=hi
        )
        low, high = self._delay_bounds(d_min)
        delay = self._delay(key, d, low, high)
        return sim.Projection(
            pre,
            post,
            self._connector(n, (4, *key), pre, post),
            sim.StaticSynapse(weight=weight, delay=delay),
            receptor_type=receptor_of(w_mean),
        )

    def poisson_drive(self, pop, index: int, rate_hz: float, weight_pA: float, delay_ms: float):
        """One independent Poisson source per neuron (``SpikeSourcePoisson``, one-to-one)."""
        sim = self.sim
        src = sim.Population(
            pop.size,
            sim.SpikeSourcePoisson(rate=float(rate_hz)),
            label=f"{pop.label}_poisson",
            **self._population_kwargs(5, index),
        )
        return sim.Projection(
            src,
            pop,
            sim.OneToOneConnector(),
            sim.StaticSynapse(weight=weight_pA * 1e-3, delay=self._poisson_delay(delay_ms)),
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
            **self._population_kwargs(6),
        )

    def record_spikes(self, pop, n_record: int, start_ms: float) -> None:
        self._record_start_ms = start_ms
        target = pop if n_record >= pop.size else pop[:n_record]
        target.record("spikes")

    def spikes(self, pop) -> tuple[np.ndarray, np.ndarray]:
        """Recorded spikes of ``pop`` as (index within population, time in ms), both flat."""
        block = pop.get_data("spikes", clear=False)
        trains = block.segments[0].spiketrains
        if len(trains) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        # Neo's SpikeTrainList gives (channel ids, times) flat, without a train per neuron
        channel, t = trains.multiplexed
        times = np.asarray(t.rescale("ms").magnitude if hasattr(t, "rescale") else t, float)
        ids = np.asarray(pop.id_to_index(np.asarray(channel, dtype=np.int64)), dtype=np.int64)
        keep = times >= self._record_start_ms
        order = np.lexsort((ids[keep], times[keep]))
        return ids[keep][order], times[keep][order]


@dataclass
class Network:
    """A built model: PyNN populations and projections, and the backend that built them."""

    spec: ModelSpec
    backend: PyNNBackend
    populations: dict = field(default_factory=dict)
    projections: dict = field(default_factory=dict)
    n_recorded: dict = field(default_factory=dict)
    build_phases_s: dict = field(default_factory=dict)

    def spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {name: self.backend.spikes(pop) for name, pop in self.populations.items()}


def build(
    sim,
    spec: ModelSpec,
    seed: int,
    backend: PyNNBackend | None = None,
    record_fraction: float = 1.0,
    record_from_ms: float = 0.0,
) -> Network:
    """Create the model described by ``spec`` in the PyNN simulator ``sim``.

    Neurons of all populations are created before any device or connection (interleaving
    them slows NEST's connection phase several-fold; measured with
    ``benchmarks/nest_vs_pynest.py``).

    Parameters
    ----------
    sim : module
        A PyNN backend module, already set up.
    spec : ModelSpec
        What to build.
    seed : int
        Master seed of every random choice made here.
    backend : PyNNBackend, optional
        Platform fast path; the generic PyNN route by default.
    record_fraction : float
        Fraction of each population whose spikes are recorded (the first neurons).
    record_from_ms : float
        Spikes before this time are not kept (warm-up).
    """
    backend = backend or PyNNBackend(sim, seed)
    net = Network(spec=spec, backend=backend)
    t0 = time.perf_counter()
    for i, name in enumerate(spec.populations):
        net.populations[name] = backend.create_population(
            i,
            int(spec.n_neurons[i]),
            cell_parameters(spec, i),
            name,
            (float(spec.v0_mean_mV[i]), float(spec.v0_sd_mV[i])),
        )
    thalamus = backend.thalamus(spec.thalamus) if spec.thalamus else None
    t1 = time.perf_counter()
    log.info("created %d neurons in %.1f s", spec.total_neurons, t1 - t0)

    n_proj = int(np.count_nonzero(spec.n_synapses))
    done = 0
    for i, tgt in enumerate(spec.populations):
        for j, src in enumerate(spec.populations):
            n = int(spec.n_synapses[i, j])
            if n == 0:
                continue
            net.projections[(src, tgt)] = backend.connect(
                net.populations[src],
                net.populations[tgt],
                (i, j),
                n,
                (float(spec.weight_mean_pA[i, j]), float(spec.weight_sd_pA[i, j])),
                (float(spec.delay_mean_ms[i, j]), float(spec.delay_sd_ms[i, j])),
                spec.delay_min_ms,
            )
            done += 1
        log.info(
            "connected %s (%d/%d projections, %.1f s)", tgt, done, n_proj, time.perf_counter() - t1
        )
    if thalamus is not None:
        th = spec.thalamus
        for i, tgt in enumerate(spec.populations):
            n = int(th["n_synapses"][i])
            if n:
                net.projections[("TC", tgt)] = backend.connect(
                    thalamus,
                    net.populations[tgt],
                    (100, i),
                    n,
                    (th["weight_mean_pA"], th["weight_sd_pA"]),
                    (th["delay_mean_ms"], th["delay_sd_ms"]),
                    spec.delay_min_ms,
                )
    t2 = time.perf_counter()

    for i, name in enumerate(spec.populations):
        if spec.ext_rate_hz[i] > 0:
            backend.poisson_drive(
                net.populations[name],
                i,
                float(spec.ext_rate_hz[i]),
                spec.ext_weight_pA,
                spec.ext_delay_ms,
            )
    for name, pop in net.populations.items():
        m = pop.size if record_fraction >= 1 else int(math.ceil(record_fraction * pop.size))
        net.n_recorded[name] = m
        if m > 0:
            backend.record_spikes(pop, m, record_from_ms)
    t3 = time.perf_counter()
    net.build_phases_s = {"create": t1 - t0, "connect": t2 - t1, "devices": t3 - t2}
    log.info("connected %d synapses in %.1f s", spec.total_synapses, t2 - t1)
    return net
