"""Runs NEST through the project at small scales (seconds each)."""

import contextlib
import json

import h5py
import numpy as np
import pytest

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.platforms.nest.run import run_nest
from pynn_microcircuit.runner import RunOptions
from pynn_microcircuit.scaling import make_spec

pytestmark = pytest.mark.nest

# NEST reference implementation at n = k = 0.1, 1 s after 500 ms warm-up, seed spread included
# (issue 2); each population must lie within 15 % or 0.1 Hz of this range.
REF_RANGES_01 = {
    "L23E": (0.40, 0.52),
    "L23I": (2.02, 2.12),
    "L4E": (3.88, 4.00),
    "L4I": (4.96, 5.01),
    "L5E": (6.48, 6.68),
    "L5I": (7.73, 7.82),
    "L6E": (0.83, 0.84),
    "L6I": (6.99, 7.01),
}


def _spikes(run_dir):
    with h5py.File(run_dir / "spikes.h5", "r") as f:
        return {
            p: (f[f"spikes/{p}/node_ids"][:], f[f"spikes/{p}/timestamps"][:]) for p in f["spikes"]
        }


@pytest.fixture(scope="module")
def run01(tmp_path_factory):
    spec = make_spec(Params(), 0.1, 0.1)
    out = tmp_path_factory.mktemp("runs") / "r01"
    return run_nest(spec, RunOptions(t_presim_ms=500, t_sim_ms=1000, seed=1, threads=2), out=out)


def test_rates_match_nest_reference_at_0_1(run01):
    rec = json.loads((run01 / "run.json").read_text())
    for name, (lo, hi) in REF_RANGES_01.items():
        rate = rec["populations"][name]["mean_rate_hz"]
        assert min(lo * 0.85, lo - 0.1) <= rate <= max(hi * 1.15, hi + 0.1), (name, rate)


def test_run_json_and_sonata_layout(run01):
    rec = json.loads((run01 / "run.json").read_text())
    for key in (
        "platform",
        "n_scale",
        "k_scale",
        "method",
        "seed",
        "threads",
        "t_presim_ms",
        "t_sim_ms",
        "populations",
        "n_synapses",
        "timings_s",
        "peak_rss_bytes",
        "versions",
    ):
        assert key in rec
    assert rec["n_synapses"] == 2_988_686
    assert rec["n_connections_nest"] == rec["n_synapses"] + 7717 + 7717  # + Poisson + recorder
    assert rec["nest_synapse_models"] == ["static_synapse"]  # auto: plain ones fit memory
    # NEST's one-off preparation (delivery tables) is timed apart, inside the simulation
    assert 0 < rec["timings_s"]["prepare"] < rec["timings_s"]["simulate"]
    assert set(rec["versions"]) >= {"python", "nest", "pyNN", "pynn_microcircuit"}
    spikes = _spikes(run01)
    assert list(spikes) == sorted(rec["populations"])
    for name, (ids, times) in spikes.items():
        n = rec["populations"][name]["n_neurons"]
        assert ids.size == times.size == rec["populations"][name]["n_spikes"]
        assert ids.min() >= 0 and ids.max() < n
        assert times.min() >= 500.0 and times.max() <= 1500.0
        assert np.all(np.diff(times) >= 0)  # sorted by time


def _small_run(tmp_path, name, seed, threads=2):
    spec = make_spec(Params(), 0.02, 0.1)
    return run_nest(
        spec,
        RunOptions(t_presim_ms=100, t_sim_ms=200, seed=seed, threads=threads),
        out=tmp_path / name,
    )


def test_same_seed_same_spikes_different_seed_different(tmp_path):
    a = _spikes(_small_run(tmp_path, "a", seed=7))
    b = _spikes(_small_run(tmp_path, "b", seed=7))
    c = _spikes(_small_run(tmp_path, "c", seed=8))
    total = sum(v[0].size for v in a.values())
    assert total > 100
    for p in a:
        np.testing.assert_array_equal(a[p][0], b[p][0])
        np.testing.assert_array_equal(a[p][1], b[p][1])
    assert any(a[p][0].size != c[p][0].size or not np.array_equal(a[p][1], c[p][1]) for p in a)


def test_chunked_nest_run_gives_the_same_spikes_as_one_simulate_per_chunk(tmp_path, monkeypatch):
    """One NEST Prepare/Cleanup around Run per progress chunk, spikes written to files, is the
    same simulation as PyNN's run (Simulate) per chunk with spikes held in memory (files
    would be reopened, truncated, at every Simulate): identical spikes, spike for spike."""
    import pynn_microcircuit.platforms.nest.run as nest_run

    fast = _spikes(_small_run(tmp_path, "fast", seed=11))

    class PerChunk:  # PyNN's run (a NEST Simulate) per chunk
        setup_s = 0.0

        def __init__(self, sim):
            self.sim = sim

        def __call__(self, ms):
            self.sim.run(ms)

    @contextlib.contextmanager
    def per_chunk_simulate(sim, announce=True):
        yield PerChunk(sim)

    monkeypatch.setattr(nest_run, "chunked_run", per_chunk_simulate)
    monkeypatch.setattr(nest_run, "first_step_ms", lambda res: float("inf"))  # memory
    plain = _spikes(_small_run(tmp_path, "plain", seed=11))
    assert sum(v[0].size for v in fast.values()) > 100
    for p in fast:
        np.testing.assert_array_equal(fast[p][0], plain[p][0])
        np.testing.assert_array_equal(fast[p][1], plain[p][1])


def test_the_run_says_what_nest_prepares_and_how_long_it_took(tmp_path, caplog):
    """The pause between the last connection and the first progress line is NEST sorting
    every connection: the log names it with the connection count NEST holds, and its time."""
    with caplog.at_level("INFO", logger="pynn_microcircuit.platforms.nest.run"):
        rec = json.loads((_small_run(tmp_path, "log", seed=3) / "run.json").read_text())
    said = [r.getMessage() for r in caplog.records]
    assert (
        f"NEST prepares its delivery tables ({rec['n_connections_nest']} connections sorted "
        "by source)" in said
    )
    assert f"prepared in {rec['timings_s']['prepare']:.1f} s" in said


def test_progress_estimates_the_time_left_from_the_latest_chunk():
    """The first chunk carries NEST's preparation; the estimate of the time left follows the
    pace of the latest chunk, not the average that includes it."""
    import io

    from pynn_microcircuit.cli.main import _Progress

    out = io.StringIO()
    progress = _Progress(out)
    progress(100.0, 1000.0, 30.0)  # 20 s preparation + 10 s for 100 ms
    progress(200.0, 1000.0, 40.0)  # 10 s per 100 ms -> 80 s for the 800 ms left
    first, second = out.getvalue().splitlines()
    assert first.endswith("(300.0x real time, ~270 s left)")
    assert second.endswith("(200.0x real time, ~80 s left)")


def test_existing_directory_is_never_overwritten(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    spec = make_spec(Params(), 0.02, 0.1)
    with pytest.raises(UserError, match="already exists"):
        run_nest(spec, RunOptions(t_presim_ms=10, t_sim_ms=10), out=out)
    assert (out / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_generic_pynn_route_builds_the_same_model(tmp_path):
    """The default PyNN route (any backend) on pyNN.nest: same counts as the fast path."""
    import nest

    from pynn_microcircuit.network import build
    from pynn_microcircuit.platforms.nest import setup

    spec = make_spec(Params(), 0.01, 0.05)
    sim = setup(spec.resolution_ms, 3, 1)
    net = build(sim, spec, 3, record_fraction=0.5, record_from_ms=0.0)
    assert nest.GetKernelStatus("num_connections") >= spec.total_synapses
    counts = {k: len(p) for k, p in net.projections.items()}
    assert sum(counts.values()) == spec.total_synapses
    assert net.n_recorded["L23E"] == int(np.ceil(0.5 * spec.n_neurons[0]))
    sim.run(100.0)
    spikes = net.spikes()
    assert sum(v[0].size for v in spikes.values()) > 0
    assert all(v[0].max() < net.n_recorded[k] for k, v in spikes.items() if v[0].size)


def test_fast_path_synapse_types_and_lazy_cell_ids():
    """Connections go to the synapse model chosen per source population (a copy made before
    the neurons), counted exactly; the per-neuron PyNN IDs are made only when asked for and
    then behave as PyNN's."""
    import nest

    from pynn_microcircuit.network import build
    from pynn_microcircuit.platforms.nest import setup
    from pynn_microcircuit.platforms.nest.fastpath import NestBackend

    spec = make_spec(Params(), 0.01, 0.05)
    sim = setup(spec.resolution_ms, 5, 1)
    types = {"L4E": "pd14_static_1", "L23I": "pd14_static_1", "L5E": "pd14_static_2"}
    net = build(sim, spec, 5, backend=NestBackend(sim, 5, types), record_fraction=1.0)
    per_source = spec.n_synapses.sum(axis=0)
    idx = {p: i for i, p in enumerate(spec.populations)}
    for model in ("pd14_static_1", "pd14_static_2"):
        want = sum(int(per_source[idx[p]]) for p, m in types.items() if m == model)
        assert nest.GetKernelStatus("num_connections") > want > 0
        assert len(nest.GetConnections(synapse_model=model)) == want
    assert len(net.projections[("L4E", "L23E")]) == spec.n_synapses[0, 2]
    pop = net.populations["L23I"]
    assert pop._all_cells is None  # building and recording never needed them
    ids = np.asarray(pop.all_cells, dtype=int)
    np.testing.assert_array_equal(ids, np.arange(ids[0], ids[0] + pop.size))
    assert int(pop.first_id) == ids[0] and int(pop.last_id) == ids[-1]
    assert pop.id_to_index(pop[7]) == 7 and pop[7].parent is pop


def test_run_releases_the_network(tmp_path):
    """run_nest frees NEST's network once it has read it (writing the spikes does not add to
    the peak memory): nothing is left in the kernel."""
    import nest

    _small_run(tmp_path, "r", seed=3)
    assert nest.GetKernelStatus("num_connections") == 0
    assert nest.GetKernelStatus("network_size") == 0


LEAN_IMPORT_CHECK = """
import sys
import numpy as np
import pynn_microcircuit.platforms.nest.fastpath
deferred = ["neo", "scipy.sparse", "numpy.f2py", "numpy.testing", "csa", "quantities",
            "numpy.random", "importlib.metadata"]
print("deferred", [m for m in deferred if m in sys.modules])
from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import make_spec
from pynn_microcircuit.network import build
from pynn_microcircuit.platforms.nest import setup
from pynn_microcircuit.platforms.nest.fastpath import NestBackend
from pynn_microcircuit.platforms.nest.run import chunked_run
spec = make_spec(Params(), 0.01, 0.05)
sim = setup(0.1, 3, 1)
net = build(sim, spec, 3, backend=NestBackend(sim, 3))
with chunked_run(sim) as advance:
    advance(100.0)
    advance(100.0)
n = sum(len(ids) for ids, _ in net.spikes().values())
print("after_run", [m for m in deferred if m in sys.modules], n > 0,
      next(iter(net.populations.values())).recorder._recording_start_time)
import lazyarray, pyNN.connectors, pyNN.network, pyNN.recording
print("issparse_before", lazyarray.sparse.issparse(np.zeros(3)), "scipy.sparse" in sys.modules)
from scipy import sparse
print("issparse_after", lazyarray.sparse.issparse(sparse.csr_matrix(np.eye(2))))
ufuncs = {n for n in dir(np) if isinstance(getattr(np, n), np.ufunc)}
print("ufuncs_missing", sorted(n for n in ufuncs if not hasattr(lazyarray, n)), "f2py" in dir(np))
import pyNN.nest as sim
sim.setup(timestep=0.1)
p = sim.Population(4, sim.SpikeSourceArray(spike_times=[1.0, 2.0, 3.0]))
p.record("spikes")
sim.run(10.0)
block = p.get_data()
import neo, quantities
print("neo", isinstance(block, neo.Block), [len(st) for st in block.segments[0].spiketrains],
      block.segments[0].spiketrains[0].units == quantities.ms,
      type(pyNN.network.get_io("x.pkl")).__name__, pyNN.recording.neo.Block is neo.Block)
import csa
print("csa", pyNN.connectors.haveCSA, "matplotlib.pyplot" in sys.modules)
"""


def test_pynn_loads_with_unused_modules_deferred_and_they_work_when_used():
    """PyNN is imported with neo, scipy.sparse and NumPy's lazy submodules deferred
    (24 MB of resident memory, module docstring of ``lean_import``) and without csa (15 MB
    with matplotlib's pyplot, unused by the model): none of them is loaded by the NEST path's
    import, lazyarray still wraps every NumPy ufunc and recognises sparse matrices once
    scipy.sparse exists, PyNN's recording returns a real neo Block (4 spike trains of 3
    spikes in ms) and ``get_io`` the real neo IO, and csa stays importable afterwards (only
    PyNN's CSAConnector is off)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", LEAN_IMPORT_CHECK], capture_output=True, text=True, check=True
    )
    lines = {ln.split()[0]: ln.split(None, 1)[1] for ln in out.stdout.splitlines() if ln}
    assert lines["deferred"] == "[]"
    # a fast-path build and run (spikes read back) load none of them either; a recorder's
    # start time is still PyNN's quantity when asked for
    assert lines["after_run"] == "[] True 0.0 ms"
    assert lines["issparse_before"] == "False False"
    assert lines["issparse_after"] == "True"
    assert lines["ufuncs_missing"] == "[] True"
    assert lines["neo"] == "True [3, 3, 3, 3] True PickleIO True"
    assert lines["csa"] == "False True"


def test_fast_path_thalamus_connections_in_their_synapse_type():
    """The thalamic relay cells (plain NEST nodes) connect with the synapse model chosen for
    ``TC``: exactly the spec's thalamic synapse count lands in that type."""
    import dataclasses

    import nest

    from pynn_microcircuit.network import build
    from pynn_microcircuit.platforms.nest import setup
    from pynn_microcircuit.platforms.nest.fastpath import NestBackend

    p = Params()
    spec = make_spec(
        dataclasses.replace(p, thalamus=dataclasses.replace(p.thalamus, enabled=True)), 0.02, 0.05
    )
    sim = setup(spec.resolution_ms, 9, 1)
    build(sim, spec, 9, backend=NestBackend(sim, 9, {"TC": "pd14_static_1"}), record_fraction=0.1)
    n_tc = int(sum(spec.thalamus["n_synapses"]))
    assert n_tc > 0
    assert len(nest.GetConnections(synapse_model="pd14_static_1")) == n_tc


def test_compact_synapses_are_the_same_simulation_as_full_ones():
    """NEST's compact ``static_synapse_hpc`` (the default where it fits) holds every recurrent
    and thalamic connection, the devices keep ``static_synapse``, and the run is the one
    plain ``static_synapse`` gives: identical spikes, spike for spike, thalamic burst
    included; memory per connection is lower."""
    import dataclasses

    import nest

    from pynn_microcircuit.network import build
    from pynn_microcircuit.platforms.nest import setup
    from pynn_microcircuit.platforms.nest.fastpath import NestBackend
    from pynn_microcircuit.platforms.nest.setup import synapse_types

    p = Params()
    th = dataclasses.replace(p.thalamus, enabled=True, start_ms=150.0, duration_ms=20.0)
    spec = make_spec(dataclasses.replace(p, thalamus=th), 0.02, 0.1)
    n_rec = spec.total_synapses + int(sum(spec.thalamus["n_synapses"]))
    runs = {}
    for compact in (True, False):
        types = synapse_types(spec, 2, compact=compact)
        assert set(types.values()) == {"static_synapse_hpc" if compact else "static_synapse"}
        sim = setup(spec.resolution_ms, 4, 2)
        net = build(sim, spec, 4, backend=NestBackend(sim, 4, types), record_fraction=1.0)
        n_hpc = len(nest.GetConnections(synapse_model="static_synapse_hpc"))
        assert n_hpc == (n_rec if compact else 0)
        sim.run(300.0)
        runs[compact] = net.spikes()
    assert sum(v[0].size for v in runs[True].values()) > 100
    for pop, (ids, times) in runs[False].items():
        np.testing.assert_array_equal(runs[True][pop][0], ids)
        np.testing.assert_array_equal(runs[True][pop][1], times)


CLI_IMPORTS_AT_BUILD = """
import sys
import pynn_microcircuit.platforms.nest.run as nest_run
def stop(*args, **kwargs):
    print(sorted(m for m in ("scipy.optimize", "scipy.integrate", "scipy.special",
                             "scipy.sparse", "neo") if m in sys.modules))
    raise SystemExit(0)
nest_run.run_nest = stop
from pynn_microcircuit.cli.main import cmd_run
cmd_run(["--n-scale", "1", "--k-scale", "1", "--threads", "2", "-q", "--out", sys.argv[1]])
"""


def test_the_command_line_builds_without_scipy_s_solvers(tmp_path):
    """``python run.py`` reaches the NEST build without scipy's solvers (the mean-field
    theory imports them when it is used: 44 MB more under the network otherwise) or neo
    (NEST itself imports matplotlib, as it does for plain PyNEST); nothing is written before
    the build."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", CLI_IMPORTS_AT_BUILD, str(tmp_path / "run")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert not (tmp_path / "run").exists()


def test_stand_in_loads_the_real_module_and_keeps_the_csa_block():
    """A stand-in's first attribute read removes every stand-in from ``sys.modules`` and
    returns the real module's attribute; the csa block (None) stays, so a module loaded
    while PyNN imports cannot let csa in."""
    import sys

    from pynn_microcircuit.platforms.nest import lean_import

    name = "colorsys"
    saved = {k: sys.modules.pop(k, None) for k in (name, "csa")}
    installed: dict = {"csa": None}
    installed[name] = lean_import._stand_in(name, installed)
    installed["other"] = lean_import._stand_in("other", installed)
    sys.modules.update(installed)
    try:
        stand_in = sys.modules[name]
        assert stand_in.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
        assert sys.modules[name] is not stand_in and sys.modules[name].__file__.endswith(".py")
        assert "other" not in sys.modules and sys.modules["csa"] is None
        assert not hasattr(installed["other"], "__path__")  # from-imports: not a package
    finally:
        for k in (name, "csa", "other"):
            sys.modules.pop(k, None)
        sys.modules.update({k: v for k, v in saved.items() if v is not None})


def test_spikes_written_to_files_equal_those_held_in_memory(tmp_path):
    """A run records its spikes with NEST's ASCII backend (files, read back after the network
    is gone, so they never sit on top of it in memory); the same seed recorded in memory gives
    the same spikes exactly, through several chunks (each NEST Prepare reopens the files), and
    the files can be read after nest.ResetKernel."""
    import nest

    from pynn_microcircuit.network import build
    from pynn_microcircuit.platforms.nest import setup
    from pynn_microcircuit.platforms.nest.fastpath import NestBackend
    from pynn_microcircuit.platforms.nest.run import chunked_run
    from pynn_microcircuit.runner import simulate

    spec = make_spec(Params(), 0.02, 0.05)
    got = {}
    for mode in ("files", "memory"):
        sim = setup(spec.resolution_ms, 4, 2)
        folder = tmp_path if mode == "files" else None
        backend = NestBackend(sim, 4, spike_dir=folder)
        net = build(sim, spec, 4, backend=backend, record_from_ms=20.0)
        with chunked_run(sim) as advance:
            simulate(sim, 200.0, 4, lambda *a: None, advance=advance)
        if mode == "files":
            nest.ResetKernel()
        got[mode] = {k: backend.spikes_of(k) for k in net.populations}
    assert sum(len(ids) for ids, _ in got["memory"].values()) > 100
    for k, (ids, times) in got["memory"].items():
        f_ids, f_times = got["files"][k]
        assert np.array_equal(ids, f_ids) and np.array_equal(times, f_times), k
        assert times.min() > 20.0
    assert len(list(tmp_path.glob("*.dat"))) == 2 * len(spec.populations)  # one per thread


@pytest.mark.nest
def test_an_interrupted_run_is_marked_and_refused(tmp_path):
    """SIGTERM during a NEST run: exit 130, the run directory says INCOMPLETE with the
    reason, and analyse and compare refuse it in one line (before: NEST's spike files and no
    marker)."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(root / "run.py"), "--n-scale", "0.02", "--t-sim", "100000",
         "--no-analysis", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while not (out / "nest_spikes").is_dir() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)  # inside the simulation
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    marker = (out / "INCOMPLETE").read_text()
    assert "started" in marker and "interrupted by SIGTERM" in marker
    assert not (out / "run.json").exists()
    res = subprocess.run([sys.executable, str(root / "run.py"), "analyse", str(out)],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2 and "holds an unfinished run" in res.stderr
    assert "interrupted by SIGTERM" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.nest
def test_a_full_disk_never_ends_in_a_run_with_fewer_spikes(tmp_path):
    """A run whose disk fills while NEST writes its spike files (a 60 kB tmpfs here) stops
    with one line naming the files and the free space, writes no spikes.h5 or run.json,
    removes the unusable files and leaves the directory marked INCOMPLETE with the reason
    (before: exit 0 and a spikes.h5 with fewer spikes than NEST recorded)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=60k", "tmpfs", str(disk)],
                           capture_output=True, text=True)  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mount.stderr.strip()}")
    try:
        out = disk / "run"
        res = subprocess.run(
            [sys.executable, str(root / "run.py"), "--n-scale", "0.02", "--t-sim", "3000",
             "--no-analysis", "-q", "--out", str(out)], capture_output=True, text=True,
        )  # fmt: skip
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr
        assert "spike files of" in lines[0] and "MiB free" in lines[0]
        assert sorted(p.name for p in out.iterdir()) == ["INCOMPLETE"]
        assert "failed: NEST's spike files" in (out / "INCOMPLETE").read_text()
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_lean_import_switch_off_imports_pyNN_plainly():
    """``PYNN_MICROCIRCUIT_LEAN_IMPORT=0`` is the one switch: PyNN then loads neo and
    quantities at import as it always does (and nothing is deferred)."""
    import os
    import subprocess
    import sys

    code = ("import sys, pynn_microcircuit.platforms.nest.fastpath; "
            "print('neo' in sys.modules, 'quantities' in sys.modules)")  # fmt: skip
    quiet = {**os.environ, "PYNEST_QUIET": "1"}  # no NEST banner on stdout
    env = {**quiet, "PYNN_MICROCIRCUIT_LEAN_IMPORT": "0"}
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    lean = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=quiet)
    assert plain.stdout.split() == ["True", "True"], plain.stderr[-500:]
    assert lean.stdout.split() == ["False", "False"], lean.stderr[-500:]
