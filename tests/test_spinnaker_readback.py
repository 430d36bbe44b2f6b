"""Spikes read back from sPyNNaker exactly: known spikes go in as the neuron cores write them
(sPyNNaker's recording format, stored through its own buffer database on a virtual-board
mapping), come out through sPyNNaker's own conversion and our reader, and land in spikes.h5
with exactly the same node ids and times. No board exists here; everything after the cores'
recording buffers is sPyNNaker 7.4.1's own code."""

import math
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from pynn_microcircuit.platforms.spinnaker.capacity import Knobs
from pynn_microcircuit.runner import store_spikes

DT = 0.1
T_RUN = 30.0  # ms
T_START = 5.0  # spikes before this are the warm-up, dropped
#: (population, size, recorded neurons): one recorded partially, several cores each
POPS = (("L23E", 40, 40), ("L4I", 50, 23), ("L6E", 37, 37))


def _raw_recording(neurons, spikes_by_local, n_steps) -> bytes:
    """Bytes of one core's spike recording region as the neuron core writes them
    (``neuron/implementations/neuron_recording.h``: per time step with spikes, the time step
    as a 32-bit word, then a bit field of the recorded neurons, bit ``k`` of word ``w`` for the
    ``32 w + k``-th recorded neuron), little-endian."""
    n_words = math.ceil(len(neurons) / 32)
    rows = []
    for step in range(n_steps):
        words = np.zeros(n_words, np.uint32)
        for local in spikes_by_local.get(step, ()):
            words[local // 32] |= np.uint32(1 << (local % 32))
        if words.any():
            rows.append(np.concatenate([[np.uint32(step)], words]))
    if not rows:
        return b""
    return np.asarray(rows, dtype="<u4").tobytes()


def _inject(pop, rng, n_steps):
    """Write random spikes of the recorded neurons of ``pop`` into sPyNNaker's buffer database
    for every core that records it; returns the spikes as (index, time step) pairs."""
    from spynnaker.pyNN.data import SpynnakerDataView
    from spynnaker.pyNN.utilities.neo_buffer_database import NeoBufferDatabase

    vertex = pop._vertex  # test-only: the cores a population records on
    region = vertex.get_recording_region("spikes")
    truth = []
    with NeoBufferDatabase() as db:
        if db.get_last_extraction_id() is None:
            db.start_new_extraction()
        for mv in vertex.splitter.machine_vertices_for_recording("spikes"):
            neurons = list(vertex.get_neurons_recording("spikes", mv.vertex_slice))
            if not neurons:
                continue
            by_step: dict = {}
            edge = int(round(T_START / DT))  # the warm-up's last step and the first kept one
            for local, index in enumerate(neurons):
                steps = rng.choice(n_steps, size=int(rng.integers(0, 6)), replace=False)
                if local == 0:
                    steps = np.union1d(steps, [edge - 1, edge])
                for s in steps:
                    by_step.setdefault(int(s), []).append(local)
                    truth.append((int(index), int(s)))
            pl = SpynnakerDataView.get_placement_of_vertex(mv)
            data = _raw_recording(neurons, by_step, n_steps)
            db.store_recording(pl.x, pl.y, pl.p, region, False, data)
    return truth


def test_spinnaker_readback_exact_ids_and_times(tmp_path):
    pytest.importorskip("spynnaker")
    from pynn_microcircuit.network import cell_parameters  # noqa: F401 - same module path
    from pynn_microcircuit.platforms.spinnaker.backend import SpinnakerBackend
    from pynn_microcircuit.platforms.spinnaker.setup import (
        Machine,
        import_spynnaker,
        run_environment,
        setup,
    )

    sim = import_spynnaker()
    knobs = Knobs(neurons_per_core=16)
    machine = Machine("virtual", boards=1)
    rng = np.random.default_rng(7)
    n_steps = int(round(T_RUN / DT))
    with run_environment(tmp_path, machine, knobs):
        setup(sim, DT, knobs, machine)
        backend = SpinnakerBackend(sim, 1, knobs, DT)
        pops = {}
        for i, (name, size, n_rec) in enumerate(POPS):
            pops[name] = backend.create_population(i, size, {}, name, (-58.0, 5.0))
            backend.record_spikes(pops[name], n_rec, T_START)
        sim.run(T_RUN)
        truth = {name: _inject(pops[name], rng, n_steps) for name in pops}
        spikes = {name: backend.spikes(pop) for name, pop in pops.items()}
        sim.end()
    spec = SimpleNamespace(populations=[p[0] for p in POPS], n_neurons=[p[1] for p in POPS])
    n_rec = {name: r for name, _, r in POPS}
    store_spikes(tmp_path, spec, spikes, n_rec, T_START, T_RUN)

    with h5py.File(tmp_path / "spikes.h5") as f:
        for name, size, recorded in POPS:
            expected = sorted((step * DT, idx) for idx, step in truth[name] if step * DT >= T_START)
            assert len(expected) > 20  # the test feeds enough spikes to mean something
            ids = f[f"spikes/{name}/node_ids"][:]
            times = f[f"spikes/{name}/timestamps"][:]
            got = list(zip(times.tolist(), ids.tolist(), strict=True))  # as stored: the order too
            assert [i for _, i in got] == [i for _, i in expected]  # by time, ties by id
            np.testing.assert_allclose([t for t, _ in got], [t for t, _ in expected], atol=1e-9)
            assert min(times) == pytest.approx(T_START)  # the first kept step is kept, the one
            # before it (injected too, in every population) is not: the expected list has it not
            assert ids.max() < recorded <= size  # a partial recording names the first neurons
            assert f[f"spikes/{name}"].attrs["n_neurons"] == size
