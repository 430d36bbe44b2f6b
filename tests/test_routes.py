"""The model on the generic PyNN route: it builds on ``pyNN.mock`` and, on NEST, agrees with
the NEST fast path (same neurons and synapses, statistically consistent rates)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from pynn_microcircuit.analysis.priors import phi0
from pynn_microcircuit.analysis.verdicts import cell, holm
from pynn_microcircuit.network import build
from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import make_spec

ROOT = Path(__file__).resolve().parents[1]


def test_model_builds_on_pynn_mock():
    import pyNN.mock as sim

    spec = make_spec(Params(), 0.02, 0.02)
    sim.setup(timestep=spec.resolution_ms)
    net = build(sim, spec, seed=1)
    assert [net.populations[p].size for p in spec.populations] == spec.n_neurons.tolist()
    assert sum(p.size() for p in net.projections.values()) == spec.total_synapses
    sim.end()


def _route(route: str) -> dict:
    res = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "route_run.py"), route, "0.02", "2000", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_fast_path_and_generic_route_build_the_same_model():
    """Same neurons and neuron-to-neuron synapses (exact counts), and rates consistent by
    the calibrated rate test (Holm over populations, family-wise 1 %; the generic prior, as
    the routes are two seeds of the same model at a scale the measured prior does not
    cover)."""
    fast, generic = _route("fast"), _route("generic")
    spec = make_spec(Params(), 0.02, 0.02)
    for r in (fast, generic):
        assert r["neurons"] == dict(zip(spec.populations, spec.n_neurons.tolist(), strict=True))
        assert r["synapses"] == spec.total_synapses
    cells = [
        cell(
            {"rates_hz": np.asarray(fast["rates"][p])},
            [{"rates_hz": np.asarray(generic["rates"][p])}],
            "rate",
            1.0,
            phi0(None, "rate", p),
        )
        for p in spec.populations
    ]
    adjusted = holm([c["p_value"] for c in cells])
    assert min(adjusted) > 0.01, dict(zip(spec.populations, adjusted, strict=True))
