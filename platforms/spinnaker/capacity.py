"""Capacity model of sPyNNaker 7.4 for a ModelSpec: cores, chips and boards, and its limits.

Pure maths (numpy/scipy), no sPyNNaker import, so the planner can use it anywhere. The rules
are sPyNNaker 7.4.1's own (file names under ``spynnaker/pyNN/``), see also the project's
``shared/spinnaker.md``:

* Each population of N neurons is cut into ``ceil(N / npc)`` slices (``npc`` neurons per
  core). At dt < 1 ms every slice is a same-chip group of 1 neuron core, S synapse cores and
  one core per *direct* Poisson source (``models/neuron/population_vertex.py``,
  ``__update_n_synapse_cores`` and ``_is_direct_poisson``).
* ``S = ceil(sum_pre N_pre nu_pre r_max / (13e6 tsf))`` per target population: 13e6 synaptic
  events per second per core for static synapses (``synapse_dynamics_static.py``), ``tsf``
  the time-scale factor, ``nu_pre`` the planning rate (``[Simulation] spikes_per_second``,
  30 Hz) and ``r_max`` the probable maximum row length of a multapse (fixed-total-number)
  projection into one core: two nested binomial 1 - 0.01/S quantiles
  (``connectors/multapse_connector.py``, ``utilities/utility_calls.py``). If S plus the direct
  Poisson cores reach ``15`` (18 cores - monitor - extra monitor - the neuron core), Poisson
  input stops being direct; such plans are not offered.
* Rows hold at most 256 synapses (``neuron/master_pop_table.py``); longer rows raise
  ``SynapseRowTooBigException``: not offered.
* Delay slots per neuron core: ``min(2^bits(ceil(d_max/dt)), 2^(14 - bits(npc) - 1))``; a
  projection whose probable maximum delay (truncated-normal quantile 1 - 0.01/S) exceeds them
  needs a delay extension: one extra core per slice of its *source* population
  (``extra_algorithms/delay_support_adder.py``). With extensions disabled the network's
  delays are clipped to the slots instead (the platform does this; the fraction of clipped
  synapses is reported).
* Neuron cores must update their neurons within each time step. sPyNNaker 7.4.1 keeps no
  per-neuron cycle figure for its LIF model (``population_vertex.py`` budgets only the
  synapse side), so the bound comes from the one published real-time operating point of this
  model: 64 ``IF_curr_exp`` neurons per core at dt = 0.1 ms and time-scale factor 1 (the
  PD14 setup of sPyNNaker's example and of the real-time full-scale run, Rhodes et al. 2020,
  Phil. Trans. R. Soc. A 378:20190160). The time a core has per step is dt x time-scale
  factor, so at most ``64 x (dt / 0.1 ms) x tsf`` neurons per core
  (:func:`max_neurons_per_core`; at dt = 1 ms that is 640, above sPyNNaker's default of 256
  for that step). A mapping beyond it is predicted to overrun its timer and is not offered;
  the bound is one anchor scaled linearly, not a measured cycle count, so it may be
  conservative (van Albada et al. 2018, Front. Neurosci. 12:291, needed a 20x slowdown at
  80 per core, with synapses processed on the neuron cores).
* Chips: an emulation of PACMAN's placer on the SpiNN-5 machine geometry
  (:mod:`pynn_microcircuit.platforms.spinnaker.placer`): chips of 16 application cores (18 minus the monitor
  and the extra monitor; 15 on the Ethernet chip), boards of 48 chips, multi-board machines
  in triads (3 boards). It reproduced the chips of every single-board mapping tried exactly
  and larger ones within 5 % (26 configurations, ``benchmarks/spinnaker_fit.py --grid``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from pynn_microcircuit.budget import SETTINGS
from pynn_microcircuit.scaling import ModelSpec

from .placer import place

#: Static synapse events per second one synapse core processes (sPyNNaker 7.4.1).
SYNAPSE_EVENTS_PER_CORE_S = 13_000_000
#: Cores per chip usable by the application (18 - SCAMP monitor - extra monitor).
APP_CORES_PER_CHIP = 16
#: Synapse + Poisson cores a neuron slice may have (the rest of its chip).
MAX_SUPPORT_CORES = 15
CHIPS_PER_BOARD = 48
#: Longest synaptic row (synapses from one source neuron into one core).
MAX_ROW_SYNAPSES = 256
#: Bits of the synaptic ring-buffer index (``constants.MAX_RING_BUFFER_BITS``).
RING_BUFFER_BITS = 14
#: Delay-extension stages behind one neuron core: a delay extension holds this many times
#: the core's slots (``DelayExtensionVertex.MAX_SLOTS = 8`` in sPyNNaker 7.4.1,
#: ``models/utility_models/delays/delay_extension_vertex.py``).
DELAY_EXTENSION_SLOTS = 8
#: Neurons per core of a (non-direct) SpikeSourcePoisson such as the thalamus
#: (``models/spike_source/spike_source_poisson.py``: ``DEFAULT_MAX_ATOMS_PER_CORE = 500``).
POISSON_ATOMS_PER_CORE = 500
#: Probability budget sPyNNaker uses for its "probable maximum" quantiles.
CHANCE = 0.01
#: LIF neurons one neuron core updates in real time at dt = 0.1 ms (see the module docstring).
REALTIME_NEURONS_PER_CORE = 64
#: The time step of that operating point (ms).
REALTIME_DT_MS = 0.1


def max_neurons_per_core(dt_ms: float, time_scale_factor: float) -> int:
    """Most LIF neurons a neuron core updates within a step of ``dt_ms`` slowed down by
    ``time_scale_factor`` (the published real-time point scaled by the time per step)."""
    return int(
        math.floor(REALTIME_NEURONS_PER_CORE * dt_ms / REALTIME_DT_MS * time_scale_factor + 1e-9)
    )


def neuron_slowdown(npc: int, dt_ms: float) -> int:
    """Smallest time-scale factor at which ``npc`` neurons per core keep up."""
    return max(1, math.ceil(npc * REALTIME_DT_MS / (REALTIME_NEURONS_PER_CORE * dt_ms) - 1e-9))


@dataclass(frozen=True)
class Knobs:
    """The sPyNNaker settings a run exposes.

    Attributes
    ----------
    neurons_per_core : int
        LIF neurons per neuron core (sPyNNaker default 256, published PD14 setup 64).
    time_scale_factor : int
        Machine time step / simulated time step: 1 is real time, 20 is 20x slower.
    spikes_per_second : float
        Planning rate (Hz) sPyNNaker assumes for every LIF neuron when it sizes synapse cores.
    delay_extensions : bool
        Allow delay-extension cores; without them delays are clipped to the neuron core's slots.
    """

    neurons_per_core: int = 64
    time_scale_factor: int = 1
    spikes_per_second: float = 30.0
    delay_extensions: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def n_bits(n: int) -> int:
    """Bits needed to represent ``n`` distinct values (sPyNNaker's ``get_n_bits``)."""
    return 0 if n <= 1 else int(math.ceil(math.log2(n)))


def probable_max_row(n_syn: int, n_pre: int, n_post: int, npc: int) -> int:
    """Probable maximum synapses from one source neuron into one target core for a
    fixed-total-number (multapse) projection of ``n_syn`` synapses (``MultapseConnector``)."""
    if n_syn <= 0:
        return 0
    q = 1.0 - CHANCE / n_syn
    p_slice = min(min(npc, n_post) / n_post, 1.0)
    in_slice = max(stats.binom.ppf(q, n_syn, p_slice), 1)
    return int(math.ceil(max(stats.binom.ppf(q, in_slice, 1.0 / n_pre), 1)))


def probable_max_delay(mean: float, sd: float, low: float, high: float, n_syn: int) -> float:
    """Probable maximum delay (ms) of ``n_syn`` truncated-normal delays (quantile 1 - 0.01/S)."""
    if sd <= 0:
        return mean
    a, b = (low - mean) / sd, (high - mean) / sd
    return float(min(stats.truncnorm.ppf(1.0 - CHANCE / n_syn, a, b, loc=mean, scale=sd), high))


def delay_slots(npc: int, n_post: int, d_max_ms: float, dt_ms: float) -> int:
    """Delay slots of a neuron core (``PopulationVertex.max_delay_steps_incoming``)."""
    available = 2 ** (RING_BUFFER_BITS - n_bits(min(npc, n_post)) - 1)  # 2 synapse types
    wanted = 2 ** n_bits(int(math.ceil(d_max_ms / dt_ms)))
    return min(wanted, available)


def delay_limit_ms(npc: int, dt_ms: float) -> float:
    """Longest delay a neuron core holds without extensions (its full slot range)."""
    return 2 ** (RING_BUFFER_BITS - n_bits(npc) - 1) * dt_ms


@dataclass
class Mapping:
    """What a spec needs on SpiNNaker: cores by kind, chips, boards, and why it cannot map."""

    cores: int
    chips: int
    boards: int
    cores_by_kind: dict
    slices: list
    synapse_cores: list
    max_row: int
    problems: list
    slowdown_needed: dict = None

    @property
    def feasible(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "cores": self.cores,
            "chips": self.chips,
            "boards": self.boards,
            "cores_by_kind": self.cores_by_kind,
            "synapse_cores_per_slice": dict(self.synapse_cores),
            "max_row_synapses": self.max_row,
            "problems": self.problems,
            "slowdown_needed": self.slowdown_needed,
        }


def boards_for_chips(chips: int) -> int:
    """Boards of a machine with at least ``chips`` chips: 1, or a multiple of 3 (triads)."""
    b = max(1, math.ceil(chips / CHIPS_PER_BOARD))
    return b if b == 1 else 3 * math.ceil(b / 3)


def pack_chips(vertex_groups: list[list[int]]) -> int:
    """A quick estimate of the chips the placer fills with ``vertex_groups`` (per application
    vertex, in graph order, the sizes in cores of its same-chip groups), used to size the
    machine for :func:`pynn_microcircuit.platforms.spinnaker.placer.place`.

    The placer without the board's geometry: each vertex
    starts on the first earlier start chip with room (else a new chip, which becomes a start
    chip), fills its current chip, then overflows to the next chip with room after it (else a
    new chip, which does not become a start chip); the first (Ethernet) chip has one core
    less (the data gatherer). Against the real placer on 26 mapped configurations
    (``benchmarks/spinnaker_fit.py --grid`` and shared/spinnaker.md) it was between 4.3 %
    below and 11.8 % above (23 of 26 within 6 %; the misses are small machines where one or
    two chips are 7-12 %); plain first-fit packing undercounted by up to 33 %.
    """
    free: list[int] = []
    starts: list[int] = []

    def new_chip() -> int:
        free.append(APP_CORES_PER_CHIP - (0 if free else 1))
        return len(free) - 1

    for groups in vertex_groups:
        cur = None
        for g in groups:
            if cur is not None and free[cur] >= g:
                free[cur] -= g
                continue
            if cur is None:
                cur = next((i for i in starts if free[i] >= g), None)
                if cur is None:
                    cur = new_chip()
                    starts.append(cur)
            else:
                cur = next((i for i in range(cur + 1, len(free)) if free[i] >= g), None)
                if cur is None:
                    cur = new_chip()
            free[cur] -= g
    return len(free)


def delay_needs(spec: ModelSpec, knobs: Knobs):
    """Per projection (i <- j): probable maximum delay (ms) and whether it exceeds the target
    core's slots; delays are the truncated normals the platform draws (low = dt, high = the
    extension limit, or the slot limit when extensions are off)."""
    dt = spec.resolution_ms
    npc = knobs.neurons_per_core
    n_pop = len(spec.populations)
    d_high = high_delay_ms(knobs, dt)
    d_max = np.zeros((n_pop, n_pop))
    for i in range(n_pop):
        for j in range(n_pop):
            s = int(spec.n_synapses[i, j])
            if s:
                d_max[i, j] = probable_max_delay(
                    float(spec.delay_mean_ms[i, j]), float(spec.delay_sd_ms[i, j]), dt, d_high, s
                )
    needs = np.zeros((n_pop, n_pop), bool)
    for i in range(n_pop):
        row_max = d_max[i].max()
        slots = delay_slots(npc, int(spec.n_neurons[i]), row_max, dt)
        needs[i] = d_max[i] > slots * dt + 1e-12
    return d_max, needs


def high_delay_ms(knobs: Knobs, dt_ms: float) -> float:
    """Upper bound of the delay distributions the platform draws from."""
    limit = delay_limit_ms(knobs.neurons_per_core, dt_ms)
    return limit * (1 + DELAY_EXTENSION_SLOTS) if knobs.delay_extensions else limit


def predict_mapping(spec: ModelSpec, knobs: Knobs = Knobs()) -> Mapping:
    """Cores, chips and boards sPyNNaker's mapper will use for ``spec`` with ``knobs``.

    Parameters
    ----------
    spec : ModelSpec
        The (downscaled) model; external drive must be Poisson (``input='poisson'``) for the
        direct Poisson sources, DC drive needs none.
    knobs : Knobs
    """
    npc = int(knobs.neurons_per_core)
    tsf = float(knobs.time_scale_factor)
    n = [int(x) for x in spec.n_neurons]
    n_pop = len(n)
    slices = [math.ceil(x / npc) if x else 0 for x in n]
    poisson = [
        1 if (spec.input == "poisson" and spec.ext_rate_hz[i] > 0) else 0 for i in range(n_pop)
    ]
    dt = spec.resolution_ms
    need = {"neuron_updates": neuron_slowdown(npc, dt)}
    syn_cores, max_row, need["synapse_events"], problems = _synapse_cores(spec, knobs, poisson)
    if max_row > MAX_ROW_SYNAPSES:
        problems.append(
            f"rows of {max_row} synapses exceed sPyNNaker's {MAX_ROW_SYNAPSES}; use fewer "
            "neurons per core or a smaller in-degree"
        )
    _, needs = delay_needs(spec, knobs)
    ext_sources = sorted({j for i in range(n_pop) for j in range(n_pop) if needs[i, j]})
    if ext_sources and not knobs.delay_extensions:
        ext_sources = []  # delays are clipped to the slots instead
    n_delay = sum(slices[j] for j in ext_sources)
    n_neuron = sum(slices)
    n_syn = sum(slices[i] * s for i, (_, s) in enumerate(syn_cores))
    n_pois = sum(slices[i] * poisson[i] for i in range(n_pop))
    # the thalamus is a SpikeSourcePoisson with projections to many targets: not direct, its
    # own cores, created after the populations
    n_thal = (
        math.ceil(int(spec.thalamus["n_neurons"]) / POISSON_ATOMS_PER_CORE) if spec.thalamus else 0
    )
    groups = [[1 + s + poisson[i]] * slices[i] for i, (_, s) in enumerate(syn_cores)]
    groups += [[1] * n_thal] if n_thal else []
    groups += [[1] * slices[j] for j in ext_sources]  # delay vertices come after the model's
    n_pois += n_thal
    cores = n_neuron + n_syn + n_pois + n_delay
    chips = _chips(groups, problems)
    by_kind = {"neuron": n_neuron, "synapse": n_syn, "poisson": n_pois, "delay": n_delay}
    need["set_by"] = max(("neuron_updates", "synapse_events"), key=lambda k: need[k])
    if npc > max_neurons_per_core(dt, tsf):  # maps like any other; overruns when it runs
        problems.append(
            f"{npc} neurons per core overrun the neuron cores' time step at time-scale factor "
            f"{tsf:g} (at most {max_neurons_per_core(dt, tsf)}); use fewer neurons per core or "
            f"a time-scale factor of at least {need['neuron_updates']}"
        )
    return Mapping(
        cores, chips, boards_for_chips(chips), by_kind, slices, syn_cores, max_row, problems, need
    )


def _synapse_cores(spec: ModelSpec, knobs: Knobs, poisson: list[int]):
    """Per population the synapse cores each slice needs for its incoming events at the
    planning rate (:data:`SYNAPSE_EVENTS_PER_CORE_S` per core, times the time-scale factor),
    the longest row, the time-scale factor the events alone need, and the problems found.
    Rows: :func:`probable_max_row`; the thalamus counts as one more source."""
    npc, tsf = int(knobs.neurons_per_core), float(knobs.time_scale_factor)
    n = [int(x) for x in spec.n_neurons]
    problems: list[str] = []
    max_row, need_events, syn_cores = 0, 1, []
    for i in range(len(n)):
        events = 0.0
        sources = [(int(spec.n_synapses[i, j]), n[j], knobs.spikes_per_second)
                   for j in range(len(n))]  # fmt: skip
        if spec.thalamus:
            sources.append((int(spec.thalamus["n_synapses"][i]), int(spec.thalamus["n_neurons"]),
                            float(spec.thalamus["rate_hz"])))  # fmt: skip
        for s, n_src, rate in sources:
            if not s:
                continue
            row = probable_max_row(s, n_src, n[i], npc)
            max_row = max(max_row, row)
            events += math.ceil(row * rate * n_src)
        s_i = math.ceil(events / (SYNAPSE_EVENTS_PER_CORE_S * tsf))
        room = MAX_SUPPORT_CORES - 1 - poisson[i]  # synapse cores a slice may have
        need_events = max(
            need_events, math.ceil(events / (SYNAPSE_EVENTS_PER_CORE_S * room) - 1e-9)
        )
        if s_i + poisson[i] >= MAX_SUPPORT_CORES:
            problems.append(
                f"{spec.populations[i]} needs {s_i} synapse cores per slice (max "
                f"{MAX_SUPPORT_CORES - 1 - poisson[i]}); raise the time-scale factor or lower "
                "the planning rate"
            )
        syn_cores.append((spec.populations[i], s_i))
    return syn_cores, max_row, need_events, problems


def _chips(groups: list[list[int]], problems: list[str]) -> int:
    """Chips the placer emulation uses, on the smallest machine that holds the first-fit-like
    estimate (the next size up until it fits); with problems only the estimate (a group
    larger than a chip cannot be placed anywhere; the timing bound is checked apart:
    sPyNNaker maps such a model, it overruns only when it runs)."""
    chips = pack_chips(groups)
    if not problems:
        boards = boards_for_chips(chips)
        placed = place(groups, boards)
        while placed is None:  # did not fit that machine: the next size up
            boards = 3 if boards == 1 else boards + 3
            placed = place(groups, boards)
        chips = placed
    return chips


#: Margin on predicted chips when checking a chips/boards budget: the placer emulation was up
#: to 4.9 % below the real placer on multi-board machines (exact on single boards).
CHIP_MARGIN = 1.05
#: Neurons per core the planner tries, in order of preference (64: the published setup).
PLANNER_NPC = (64, 128, 256, 32)


def knob_options(budget: dict):
    """Knob settings the planner may use under ``budget``: real time first, then slower up to
    the budget's ``slowdown`` (time-scale factors 1, 2, 5, 10, 20, ...)."""
    max_tsf = int(budget.get("slowdown", 1))
    steps = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= max_tsf]
    if max_tsf not in steps:
        steps.append(max_tsf)
    for tsf in steps:
        for npc in PLANNER_NPC:
            yield Knobs(neurons_per_core=npc, time_scale_factor=tsf)


def timing_note(mapping: Mapping, knobs: Knobs, dt_ms: float) -> str:
    """One plan line: the two real-time bounds and which one sets the slowdown."""
    need = mapping.slowdown_needed
    return (
        f"time step budget: neuron cores hold at most "
        f"{max_neurons_per_core(dt_ms, knobs.time_scale_factor)} neurons at time-scale factor "
        f"{knobs.time_scale_factor} ({REALTIME_NEURONS_PER_CORE} per core in real time at "
        f"{REALTIME_DT_MS:g} ms, Rhodes et al. 2020), {knobs.neurons_per_core} planned: "
        f"needs factor >= {need['neuron_updates']}; synapse events need factor >= "
        f"{need['synapse_events']} ({SYNAPSE_EVENTS_PER_CORE_S / 1e6:g} M events/s per synapse "
        f"core, at most {MAX_SUPPORT_CORES - 1} per slice); the slowdown is set by "
        f"{need['set_by'].replace('_', ' ')}"
    )


def resources(mapping: Mapping, knobs: Knobs) -> dict:
    """A mapping as budget resources (chips with the placer's margin)."""
    chips = math.ceil(mapping.chips * CHIP_MARGIN)
    return {
        "cores": mapping.cores,
        "chips": chips,
        "boards": boards_for_chips(chips),
        "slowdown": knobs.time_scale_factor,
        "slowdown_needed": mapping.slowdown_needed,
    }


def budget_capacity(spec: ModelSpec, budget: dict) -> dict:
    """The planner's capacity function: the first knob setting (least slowdown, published
    neurons per core first) whose mapping is feasible and fits ``budget``; else the needs of
    the smallest feasible setting, marked ``fits: False``. The chosen knobs ride along under
    ``"knobs"``."""
    best = None
    for knobs in knob_options(budget):
        m = predict_mapping(spec, knobs)
        if not m.feasible:
            continue
        res = {**resources(m, knobs), "notes": [timing_note(m, knobs, spec.resolution_ms)]}
        if all(res[k] <= v for k, v in budget.items() if k in ("cores", "chips", "boards")):
            return {**res, SETTINGS: knobs.to_dict()}
        if best is None or res["cores"] < best["cores"]:
            best = {**res, SETTINGS: knobs.to_dict()}
    if best is None:  # no knob setting maps at all (rows too long, too many synapse cores)
        return {"cores": math.inf, "chips": math.inf, "boards": math.inf, SETTINGS: None}
    return best
