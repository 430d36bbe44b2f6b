"""``run.py benchmark``: no recording, the warm-up excluded, spikes counted by the kernel."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--n-scale", "0.02", "--k-scale", "0.02", "--t-sim", "500", "--t-presim", "100",
         "--seed", "5", "-q"]  # fmt: skip


def _run(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, check=True
    )


def test_benchmark_counts_the_spikes_a_recorded_run_records(tmp_path):
    """Same seed and threads: the kernel's spike count over the timed part equals the spikes a
    normal (recording) run stores after the same warm-up - exactly."""
    _run("benchmark", *SMALL, "--threads", "2", "--out", str(tmp_path / "b"))
    proc = _run(*SMALL, "--threads", "2", "--no-analysis", "--out", str(tmp_path / "r"))
    # -q: the result only, no NEST start-up banner ahead of it, no progress lines
    assert proc.stdout.startswith("population") and "N E S T" not in proc.stdout + proc.stderr
    assert "simulating [" not in proc.stderr
    b = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    assert not (tmp_path / "b" / "INCOMPLETE").exists()  # a finished benchmark is unmarked
    r = json.loads((tmp_path / "r" / "run.json").read_text())
    assert b["spikes"] == sum(p["n_spikes"] for p in r["populations"].values()) > 0
    assert not (tmp_path / "b" / "spikes.h5").exists()  # nothing recorded
    model_s = 0.5
    assert b["real_time_factor"] == pytest.approx(b["simulate_s"] / model_s)
    events = b["spikes"] * b["synapses"] / b["neurons"]
    assert b["synaptic_events"] > events  # plus the external Poisson events
    assert b["synaptic_events_per_s"] == pytest.approx(b["synaptic_events"] / b["simulate_s"])
    assert 0 < b["prepare_s"] < b["presim_s"]  # NEST's preparation: in the warm-up, not timed
