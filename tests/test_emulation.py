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
