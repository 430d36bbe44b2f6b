"""NEST fast path: the same PyNN description, built as fast and lean as plain PyNEST.

Why each piece exists (measured on PyNN 0.13 / NEST 3.10 with ``benchmarks/nest_vs_pynest.py``):

* :class:`FastPopulation` - ``pyNN.nest.Population`` reads the full status of every node
  (``NodeCollection.local``, ``tolist()``), makes one NodeCollection per neuron, sets each
  parameter and initial value in a separate ``SetStatus`` (each ~0.7 s per 77k neurons in NEST
  3.10), and creates a multimeter and a spike recorder *before* the neurons of the next
  population. Here the neurons are created in one ``nest.Create`` with every parameter and the
  initial membrane potential (a NEST-native normal distribution), and recording devices are
  made only when asked for.
* :class:`NativeProjection` - PyNN's ``FixedTotalNumberConnector`` draws each synapse in Python
  and reads every connection back. Here one ``nest.Connect`` with rule ``fixed_total_number``
  and NEST random parameters (redrawn normals) per projection, with plain ``static_synapse``
  (PyNN's labelled ``static_synapse_lbl`` costs ~30 % connect time and 8 bytes/synapse) or,
  asked for or where only it fits the machine, NEST's compact ``static_synapse_hpc`` (16 bytes
  a synapse instead of 32, slower to simulate at full scale), and, when the model is too large
  for one type on the threads at hand, copies of it for groups of source populations
  (:func:`pynn_microcircuit.platforms.nest.setup.synapse_types`): NEST's limit of
  134,217,726 connections holds per thread and synapse type, so spreading the types lets
  full scale (299 M synapses) run on 2 threads instead of 3; look-ups go by
  (pre, post, model), which is unique with one projection per population pair.
* :class:`FastPopulation` builds PyNN's per-neuron ``ID`` objects (``all_cells``) only when
  something asks for them (18 MB kept at full scale otherwise; the fast path itself never does).
* Poisson drive - a NEST ``poisson_generator`` sends an independent train to each target, so
  one generator per population replaces PyNN's generator + relay neuron per cell.
* Spike recording - one ``spike_recorder`` per population, created after all neurons, started
  at the end of the warm-up; spikes are read back as flat arrays (no Neo object per neuron).
  Given a folder (``spike_dir``, one-process runs), NEST writes them to files with its ASCII
  backend and they are read after the network is freed, so neither NEST's in-memory store
  (16 bytes per spike) nor the readout arrays add to the run's peak memory.
"""

from __future__ import annotations

# the versions checked (one-line error) before any PyNN internal is touched
from .compat import build_nest_params, init_native_projection

# isort: split
import logging
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import nest
import numpy as np
import pyNN.nest as pynest
from pyNN import recording as pynn_recording
from pyNN.connectors import Connector
from pyNN.nest import simulator
from pyNN.nest.recording import Multimeter, SpikeDetector
from pyNN.space import Space

from pynn_microcircuit.network import PyNNBackend, receptor_of, sign_bounds
from pynn_microcircuit.rundir import read_nest_spike_files

from .setup import copied_model

log = logging.getLogger(__name__)


class LazyRecorder(pynest.Recorder):
    """``pyNN.nest`` recorder that creates its NEST devices on first use, not at construction,
    and keeps its start time in ms until it is read: PyNN's ``Recorder.__init__`` stores
    ``state.t * pq.ms``, which would import ``quantities`` (2 MB, deferred by
    :mod:`~pynn_microcircuit.platforms.nest.lean_import`) while the network is built."""

    def __init__(self, population, file=None):
        self.__mm = None
        self.__sd = None
        self.__interval = None
        # the attributes pyNN.recording.Recorder.__init__ sets (PyNN 0.13.0), the start time
        # as a float (ms) that _recording_start_time turns into a quantity when read
        self.file = file
        self.population = population
        self.recorded = defaultdict(set)
        self.cache = pynn_recording.DataCache()
        self._simulator.state.recorders.add(self)
        self.clear_flag = False
        self.__start = float(self._simulator.state.t)
        self.sampling_interval = self._simulator.state.dt
        self.record_times = getattr(self._simulator.state, "record_sample_times", False)
        self.recorded_all = defaultdict(set)

    @property
    def _recording_start_time(self):
        start = self.__start
        return start * pynn_recording.pq.ms if isinstance(start, float) else start

    @_recording_start_time.setter
    def _recording_start_time(self, value):  # PyNN's reset assigns quantities
        self.__start = value

    @property
    def sampling_interval(self):
        return self.__interval

    @sampling_interval.setter
    def sampling_interval(self, value):
        if value is not None:
            self.__interval = value
            if self.__mm is not None:
                self.__mm.device.set(interval=value)

    @property
    def _multimeter(self):
        if self.__mm is None:
            self.__mm = Multimeter()
            if self.__interval is not None:
                self.__mm.device.set(interval=self.__interval)
        return self.__mm

    @_multimeter.setter
    def _multimeter(self, value):
        self.__mm = value

    @property
    def _spike_detector(self):
        if self.__sd is None:
            self.__sd = SpikeDetector()
        return self.__sd

    @_spike_detector.setter
    def _spike_detector(self, value):
        self.__sd = value


class FastID(simulator.ID):
    """Cell ID whose single-node NodeCollection is made on demand."""

    @property
    def node_collection(self):
        return nest.NodeCollection([int(self)])


class FastPopulation(pynest.Population):
    """A ``pyNN.nest.Population`` created in one ``nest.Create`` call.

    Parameters
    ----------
    size : int
    celltype : pyNN cell type (standard)
    label : str
    v_init : nest.Parameter or float, optional
        Initial membrane potential (mV), evaluated by NEST at creation.
    """

    _recorder_class = LazyRecorder

    def __init__(self, size, celltype, label=None, v_init=None):
        self._v_init = v_init
        self._constructing = True
        super().__init__(size, celltype, label=label)
        self._constructing = False

    def _create_cells(self):
        model = self.celltype.nest_name[simulator.state.spike_precision]
        self.celltype.parameter_space.shape = (self.size,)
        params = build_nest_params(
            self.celltype.native_parameters,
            None,
            size=self.size,
            extra_parameters=self.celltype.extra_parameters,
        )
        if not isinstance(params, dict):
            raise ValueError("FastPopulation needs homogeneous cell parameters")
        params = dict(params)
        if self._v_init is not None:
            params["V_m"] = self._v_init
        self.node_collection = nest.Create(model, self.size, params=params)
        self._first_gid = int(self.node_collection[0].global_id)
        if nest.NumProcesses() == 1:
            self._mask_local = np.ones(self.size, dtype=bool)
        else:  # MPI: ask NEST which nodes live on this rank
            self._mask_local = np.array(self.node_collection.local, dtype=bool)
        self._all_cells = None

    def _cell(self, k: int) -> FastID:
        cell = FastID(self._first_gid + k)
        cell.parent = self
        return cell

    @property
    def all_cells(self) -> np.ndarray:
        """PyNN's array of cell IDs, made on first use. While PyNN's ``__init__`` runs it is
        just the first and last ID (all it reads: ``first_id``, ``last_id``)."""
        if self._constructing:
            return np.array([self._cell(0), self._cell(self.size - 1)], dtype=object)
        if self._all_cells is None:
            ids = np.empty(self.size, dtype=object)
            for k in range(self.size):
                ids[k] = self._cell(k)
            self._all_cells = ids
        return self._all_cells

    @all_cells.setter
    def all_cells(self, value) -> None:
        self._all_cells = value

    def _set_initial_value_array(self, variable, value):
        # During construction the defaults (v, isyn) are already NEST's values or were set at
        # creation; NEST cannot set I_syn anyway. Later calls take the normal PyNN route.
        if self._constructing:
            return
        super()._set_initial_value_array(variable, value)


class NativeFixedTotalNumber(Connector):
    """``fixed_total_number`` drawn by NEST, weights and delays from NEST random parameters.

    Weight (pA) and delay (ms) are ``(mean, sd)`` normals, the weight redrawn until it keeps
    the sign of its mean, the delay redrawn below ``d_min`` (then NEST puts it on the grid).
    ``weights``, an array of ``n`` values (pA), replaces the weight draws (the rounded weights
    of :class:`pynn_microcircuit.platforms.nest.emulation.WeightQuantiser`).
    """

    def __init__(self, n: int, weight: tuple, delay: tuple, d_min: float, weights=None):
        super().__init__(safe=False)
        self.n = int(n)
        self.weight = weight
        self.delay = delay
        self.d_min = d_min
        self.weights = weights

    def connect(self, projection):
        weight = self.weights
        if weight is None:
            w_mean, w_sd = self.weight
            lo, hi = sign_bounds(w_mean)
            weight = nest.math.redraw(nest.random.normal(mean=w_mean, std=w_sd), min=lo, max=hi)
        syn = {
            "synapse_model": projection.nest_synapse_model,
            "weight": weight,
            "delay": nest.math.redraw(
                nest.random.normal(mean=self.delay[0], std=self.delay[1]),
                min=self.d_min,
                max=np.inf,
            ),
        }
        nest.Connect(
            projection.pre.node_collection,
            projection.post.node_collection,
            {"rule": "fixed_total_number", "N": self.n},
            syn,
        )
        self.weights = None  # NEST holds them now; the connector outlives the build


class NativeProjection(pynest.Projection):
    """A ``pyNN.nest.Projection`` whose connections NEST draws in one call."""

    def __init__(self, pre, post, connector, synapse_type, receptor_type, nest_model, label=None):
        from pyNN import common

        common.Projection.__init__(
            self, pre, post, connector, synapse_type, None, receptor_type, Space(), label
        )
        self.nest_synapse_model = nest_model
        init_native_projection(self)
        connector.connect(self)
        self._sources = {int(self.pre.first_id)}  # non-empty: look-ups are by population

    @property
    def nest_connections(self):
        if self._connections is None or self._simulator.state.stale_connection_cache:
            self._connections = nest.GetConnections(
                self.pre.node_collection,
                self.post.node_collection,
                synapse_model=self.nest_synapse_model,
            )
            self._simulator.state.stale_connection_cache = False
        return self._connections

    def __len__(self):
        return len(self.nest_connections)


class NestBackend(PyNNBackend):
    """NEST-native building blocks behind the generic :class:`PyNNBackend` interface.

    Parameters
    ----------
    sim : module
        ``pyNN.nest`` after ``setup``.
    seed : int
    synapse_types : dict, optional
        Source population label -> NEST synapse model
        (:func:`pynn_microcircuit.platforms.nest.setup.synapse_types`); unnamed sources use
        ``static_synapse``. Copies (of ``static_synapse_hpc`` for ``pd14_hpc_*``, of
        ``static_synapse`` otherwise) are made here, before any neuron exists.
    spike_dir : path, optional
        An existing folder: spikes are written there by NEST's ASCII recording backend
        (``<population>-<recorder id>-<virtual process>.dat``, as NEST's own PD14 example
        records) instead of being held in memory, and :meth:`spikes` reads them back, also
        after ``nest.ResetKernel``. Default: NEST's memory backend.
    """

    name = "nest-native"

    def __init__(
        self, sim, seed: int, synapse_types: dict | None = None, spike_dir=None, quantiser=None
    ):
        super().__init__(sim, seed)
        self.quantiser = quantiser
        self._recorders: dict = {}
        self._first_id: dict = {}
        self._synapse_types = dict(synapse_types or {})
        self.spike_dir = None if spike_dir is None else Path(spike_dir)
        self._decimals = ascii_precision(sim.get_time_step())
        if self.spike_dir is not None:
            # overwrite: each Prepare reopens the files (the first, one-step run's are empty:
            # :func:`pynn_microcircuit.platforms.nest.run.chunked_run`)
            nest.SetKernelStatus(
                {"data_path": str(self.spike_dir), "data_prefix": "", "overwrite_files": True}
            )
        for model in sorted(set(self._synapse_types.values())):
            if model not in nest.synapse_models:
                nest.CopyModel(copied_model(model), model)

    def synapse_model(self, source_label: str) -> str:
        """The NEST synapse model of ``source_label``'s outgoing connections."""
        return self._synapse_types.get(source_label, "static_synapse")

    def create_population(self, index, size, params, label, v0):
        v_init = nest.random.normal(mean=v0[0], std=v0[1]) if v0[1] > 0 else v0[0]
        return FastPopulation(int(size), self.sim.IF_curr_exp(**params), label=label, v_init=v_init)

    def connect(self, pre, post, key, n, w, d, d_min):
        q = self.quantiser
        weights = None if q is None else q.weights(key, pre.label, post.label, n, *w)
        conn = NativeFixedTotalNumber(n, w, d, d_min, weights)
        model = self.synapse_model(pre.label)
        if isinstance(pre, _NodeGroup):  # thalamic relay cells: plain NEST nodes
            conn.connect(_NativeEdge(pre, post, model))
            return conn
        syn = self.sim.StaticSynapse(weight=w[0] * 1e-3, delay=d[0])
        return NativeProjection(pre, post, conn, syn, receptor_of(w[0]), model)

    def poisson_drive(self, pop, index, rate_hz, weight_pA, delay_ms):
        if self.quantiser is not None:
            weight_pA = self.quantiser.constant(pop.label, float(weight_pA), pop.size)
        gen = nest.Create("poisson_generator", params={"rate": float(rate_hz)})
        nest.Connect(
            gen,
            pop.node_collection,
            "all_to_all",
            {
                "synapse_model": "static_synapse",
                "weight": float(weight_pA),
                "delay": float(delay_ms),
            },
        )
        return gen

    def thalamus(self, th):
        pop = nest.Create("parrot_neuron", int(th["n_neurons"]))
        gen = nest.Create(
            "poisson_generator",
            params={
                "rate": th["rate_hz"],
                "start": th["start_ms"],
                "stop": th["start_ms"] + th["duration_ms"],
            },
        )
        nest.Connect(gen, pop)
        return _NodeGroup(pop, "TC")

    def record_spikes(self, pop, n_record, start_ms):
        params = {"start": float(start_ms)}
        if self.spike_dir is not None:
            params.update(record_to="ascii", label=pop.label, precision=self._decimals)
        rec = nest.Create("spike_recorder", params=params)
        nodes = pop.node_collection if n_record >= pop.size else pop.node_collection[:n_record]
        nest.Connect(nodes, rec)
        self._recorders[pop.label] = rec if self.spike_dir is None else int(rec.global_id)
        self._first_id[pop.label] = int(pop.first_id)

    def spikes(self, pop):
        return self.spikes_of(pop.label)

    def recorded_counts(self) -> dict[str, int]:
        """Spikes each population's recorder received (NEST's ``n_events``, also kept by the
        ASCII backend): what its files must hold once the run is over."""
        out = {}
        for label, rec in self._recorders.items():
            nodes = nest.NodeCollection([rec]) if isinstance(rec, int) else rec
            out[label] = int(nodes.get("n_events"))
        return out

    def spikes_of(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(0-based neuron index, time in ms) of ``label``'s recorded spikes, in time order
        (ties by index). The times are the grid's decimal values, from either backend: the
        memory backend's (step x resolution, off by up to 3e-14 ms) are rounded to the
        decimals the files carry, so both give the same numbers (tested)."""
        if self.spike_dir is None:
            ev = self._recorders[label].get("events")
            senders, times = ev["senders"], np.round(ev["times"], self._decimals)
        else:
            senders, times = read_nest_spike_files(
                sorted(self.spike_dir.glob(f"{label}-{self._recorders[label]}-*.dat"))
            )
        ids = np.asarray(senders, dtype=np.int64) - self._first_id[label]
        times = np.asarray(times, dtype=float)
        order = np.lexsort((ids, times))
        return ids[order], times[order]


def ascii_precision(resolution_ms: float) -> int:
    """Decimal places NEST's ASCII backend must print for spike times on a grid of
    ``resolution_ms`` to be read back exactly: those of the resolution itself (every multiple
    has no more), at least NEST's default 3."""
    return max(3, -Decimal(repr(float(resolution_ms))).as_tuple().exponent)


class _NodeGroup:
    """Minimal stand-in for a source population given to :class:`NativeFixedTotalNumber`."""

    def __init__(self, nodes, label):
        self.node_collection = nodes
        self.label = label
        self.size = len(nodes)


class _NativeEdge:
    """What :meth:`NativeFixedTotalNumber.connect` needs of a projection."""

    def __init__(self, pre, post, nest_model: str):
        self.pre = pre
        self.post = post
        self.nest_synapse_model = nest_model
