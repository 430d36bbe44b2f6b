"""SpiNNaker's weight arithmetic emulated on NEST (``--emulate spinnaker``)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pynn_microcircuit.platforms.nest.emulation import MAX_WEIGHT_STEPS, _quantise

ROOT = Path(__file__).resolve().parents[1]


def test_rounding_is_spynnakers():
    """Nearest multiple (numpy.rint, half to even, as sPyNNaker's host), sign kept, 16 bits."""
    q = 0.25
    w = np.array([0.37, -0.37, 0.125, 0.375, -1e9])
    assert _quantise(w, q).tolist() == [0.25, -0.25, 0.0, 0.5, -MAX_WEIGHT_STEPS * q]


def test_emulated_quanta_equal_those_of_a_spinnaker_mapping(tmp_path):
    """The quanta an emulated NEST run uses are the ones sPyNNaker computes for the same model
    when it maps it (a virtual-board dry run: the ring-buffer shifts of its own host code)."""
    pytest.importorskip("spynnaker")
    common = ["--n-scale", "0.02", "--k-scale", "0.02", "--seed", "4", "-q"]
    emu, spin = tmp_path / "emu", tmp_path / "spin"
    subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *common, "--t-sim", "200", "--emulate",
         "spinnaker", "--no-analysis", "--out", str(emu)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *common, "--platform", "spinnaker", "--out",
         str(spin)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    e = json.loads((emu / "run.json").read_text())["emulation"]
    s = json.loads((spin / "run.json").read_text())["weight_quantisation"]
    assert e["weight_quantum_pA"] == s["weight_quantum_pA"]
    assert e["input_errors"] == s["input_errors"]
    for name, proj in e["projections"].items():  # every projection rounded with its quantum
        tgt = name.split("->")[1]
        assert proj["weight_quantum_pA"] in (
            e["weight_quantum_pA"][tgt]["excitatory"],
            e["weight_quantum_pA"][tgt]["inhibitory"],
        )
        assert abs(proj["weight_second_moment_rel_change"]) < 1e-3


@pytest.mark.nest
def test_emulated_network_holds_rounded_weights_drawn_from_the_model():
    """Every weight NEST holds (recurrent, thalamic, Poisson drive) is a multiple of its
    target's quantum with the projection's sign, and the weights are the model's normal: the
    rounded draws' mean within 4 standard errors of the truncated normal's (2 threads: the
    rounded array is made before NEST connects, nothing is read back)."""
    import dataclasses

    import nest
    from scipy import stats

    from pynn_microcircuit.network import build
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.nest import setup
    from pynn_microcircuit.platforms.nest.emulation import WeightQuantiser
    from pynn_microcircuit.platforms.nest.fastpath import NestBackend
    from pynn_microcircuit.scaling import make_spec

    p = Params()
    spec = make_spec(
        dataclasses.replace(p, thalamus=dataclasses.replace(p.thalamus, enabled=True)), 0.02, 0.05
    )
    quanta = {pop: {"excitatory": 1.7, "inhibitory": 6.1} for pop in spec.populations}
    quantiser = WeightQuantiser(quanta, seed=6)
    sim = setup(spec.resolution_ms, 6, 2)
    net = build(sim, spec, 6, backend=NestBackend(sim, 6, quantiser=quantiser), record_fraction=0)
    i, j = spec.populations.index("L4E"), spec.populations.index("L23I")
    for (src, tgt), (a, b) in {("L23I", "L4E"): (i, j), ("L4E", "L4E"): (i, i)}.items():
        w = np.asarray(
            nest.GetConnections(
                net.populations[src].node_collection, net.populations[tgt].node_collection
            ).get("weight")
        )
        mean, sd = float(spec.weight_mean_pA[a, b]), float(spec.weight_sd_pA[a, b])
        q = quanta[tgt]["excitatory" if mean > 0 else "inhibitory"]
        assert w.size == spec.n_synapses[a, b] and np.all(np.sign(w) == np.sign(mean))
        np.testing.assert_allclose(w / q, np.rint(w / q), atol=1e-9)
        lo, hi = (0, np.inf) if mean > 0 else (-np.inf, 0)
        tn = stats.truncnorm((lo - mean) / sd, (hi - mean) / sd, loc=mean, scale=sd)
        assert abs(w.mean() - tn.mean()) < 4 * np.sqrt(tn.var() / w.size + q**2 / 12 / w.size)
        assert f"{src}->{tgt}" in quantiser.projections
    gens = nest.GetNodes({"model": "poisson_generator"})
    drive = np.unique(nest.GetConnections(gens, net.populations["L4E"].node_collection).get(
        "weight"))  # fmt: skip
    assert drive.size == 1 and drive[0] / 1.7 == pytest.approx(round(drive[0] / 1.7))
    assert drive[0] != spec.ext_weight_pA and abs(drive[0] - spec.ext_weight_pA) <= 1.7 / 2
    assert quantiser.projections["poisson->L4E"]["connections"] == net.populations["L4E"].size
    assert any(k.startswith("TC->") for k in quantiser.projections)
    # the arrays are NEST's once connected: none is kept for the run's whole length
    assert all(getattr(p, "_connector", p).weights is None for p in net.projections.values())


def test_quantiser_rounds_as_spynnaker_does():
    """A projection's rounded weights are sPyNNaker's rule, written here as the plain
    expression (sign x min(rint(|w| / q), 65535) x q), value for value, for both signs, and
    its recorded changes are those of the two arrays."""
    from pynn_microcircuit.platforms.nest.emulation import WeightQuantiser

    wq = WeightQuantiser({"B": {"excitatory": 0.3, "inhibitory": 1.1}}, seed=2)
    for mean, sd in ((87.8, 8.8), (-351.2, 35.1)):
        got = wq.weights((0, 1), "A", "B", 5000, mean, sd)
        rng = np.random.default_rng((2, 10, 0, 1))
        w = rng.normal(mean, sd, 5000)  # no redraw needed this far from zero
        q = 0.3 if mean > 0 else 1.1
        rule = np.sign(w) * np.minimum(np.rint(np.abs(w) / q), MAX_WEIGHT_STEPS) * q
        np.testing.assert_array_equal(got, rule)
        rec = wq.projections["A->B"]
        assert rec["weight_mean_rel_change"] == pytest.approx(got.mean() / w.mean() - 1)
        assert rec["weight_second_moment_rel_change"] == pytest.approx(
            np.mean(got**2) / np.mean(w**2) - 1
        )
