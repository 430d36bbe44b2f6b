"""Runs are checked against the machine before they build, and a collapsed run says so."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path, *args, memory=None):
    env = dict(os.environ)
    if memory:
        env["PYNN_MICROCIRCUIT_MACHINE_MEMORY"] = memory
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "-q", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_a_run_too_big_for_the_machine_stops_before_building(tmp_path):
    proc = _run(tmp_path, "--n-scale", "0.5", "--out", str(tmp_path / "big"), memory="1GiB")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    # --synapses auto: plain synapses would need ~4.1 GiB, compact ones ~3.3
    assert "needs ~3.3" in lines[0] and "this machine has 921.60 MiB" in lines[0]
    assert "largest model that fits is n = 0.1" in lines[0] and "--force" in lines[0]
    assert not (tmp_path / "big").exists()  # nothing was built or written
    proc = _run(
        tmp_path, "--n-scale", "0.5", "--synapses", "full", "--out", str(tmp_path / "big"),
        memory="1GiB",
    )  # fmt: skip
    assert proc.returncode == 2 and "needs ~4." in proc.stderr
    assert not (tmp_path / "big").exists()


@pytest.mark.nest
def test_force_overrides_and_a_collapsed_run_says_so(tmp_path):
    # DC drive at n = k = 0.05: most populations fall silent (as in INM-6's own package)
    out = tmp_path / "dc"
    proc = _run(
        tmp_path, "--n-scale", "0.05", "--input", "dc", "--t-sim", "200", "--t-presim", "100",
        "--out", str(out), "--force", memory="100MiB",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "activity collapsed" in proc.stderr and "silent: L23E" in proc.stderr
    rec = json.loads((out / "run.json").read_text())
    assert rec["activity_ok"] is False and "L23E" in rec["silent"]
    from pynn_microcircuit.analysis.report import validity_warning

    assert "silent: L23E" in validity_warning(rec)
