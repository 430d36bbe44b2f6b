"""SpiNNaker: the capacity model (pure maths) and, where sPyNNaker is installed, its own mapper
on a virtual board (no hardware exists here; the virtual board runs the real PACMAN mapping)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from platforms.spinnaker.capacity import Knobs, budget_capacity, pack_chips, predict_mapping
from pynn_microcircuit.budget import parse_budget, plan
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import make_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("scale", "knobs", "cores"),
    [  # sPyNNaker 7.4.1 mappings measured on a virtual board (shared/spinnaker.md)
        (0.01, Knobs(64), 48),
        (0.1, Knobs(64), 375),
        (0.2, Knobs(64), 738),
        (0.5, Knobs(64), 2428),
        (1.0, Knobs(64), 6628),
        (1.0, Knobs(256), 2978),
        (1.0, Knobs(80), 5366),
        (1.0, Knobs(64, spikes_per_second=8), 3716),
    ],
)
def test_cores_match_measured_mappings(scale, knobs, cores):
    assert predict_mapping(make_spec(Params(), scale, scale), knobs).cores == cores


def test_row_limit_and_synapse_core_limit():
    p = Params()
    # full in-degree with fewer neurons lengthens rows: 64/core fails below n ~ 0.2
    assert not predict_mapping(make_spec(p, 0.15, 1.0, method="n"), Knobs(64)).feasible
    assert predict_mapping(make_spec(p, 0.2, 1.0, method="n"), Knobs(64)).feasible
    bad = predict_mapping(make_spec(p, 0.5, 1.0, method="n"), Knobs(256))
    assert "exceed sPyNNaker's 256" in bad.problems[0]
    # a planning rate of 1 kHz needs more synapse cores than a chip has
    hot = predict_mapping(make_spec(p, 1.0, 1.0), Knobs(64, spikes_per_second=1000))
    assert "synapse cores per slice" in hot.problems[0]


@pytest.mark.parametrize(
    ("scale", "npc", "ext", "chips"),
    [  # chips of sPyNNaker 7.4.1 mappings on one virtual board (benchmarks/spinnaker_fit.py)
        (0.05, 64, True, 14),
        (0.05, 256, False, 6),
        (0.1, 256, False, 9),
        (0.2, 256, True, 20),
        (0.2, 256, False, 17),
    ],
)
def test_placer_emulation_matches_single_board_mappings(scale, npc, ext, chips):
    knobs = Knobs(npc, delay_extensions=ext)
    assert predict_mapping(make_spec(Params(), scale, scale), knobs).chips == chips


def test_chip_packing_model():
    # 15 (Ethernet chip) | 6 + 9 | 6 overflow: a later vertex does not start on an overflow
    # chip (first-fit packing would say 3 chips)
    assert pack_chips([[3] * 5, [3] * 2, [3] * 5]) == 3
    assert pack_chips([[3] * 5, [3] * 2, [3] * 5, [3]]) == 4
    assert pack_chips([[1] * 15, [1]]) == 2


def test_planner_budgets():
    p = Params()
    pl = plan("spinnaker", parse_budget("cores=800", "spinnaker"), budget_capacity, p)
    assert pl.predicted["cores"] <= 800
    pl12 = plan("spinnaker", parse_budget("boards=12", "spinnaker"), budget_capacity, p)
    assert (pl12.n_scale, pl12.k_scale) == (1.0, 1.0)
    assert pl12.predicted["knobs"]["time_scale_factor"] == 1  # real time, as published
    slow = plan("spinnaker", parse_budget("boards=6,slowdown=20", "spinnaker"), budget_capacity, p)
    assert (slow.n_scale, slow.k_scale) == (1.0, 1.0) and slow.predicted["boards"] <= 6
    with pytest.raises(UserError, match=r"too small for any valid model.*needs cores=\d+"):
        plan("spinnaker", parse_budget("cores=10", "spinnaker"), budget_capacity, p)


def _dry_run(tmp_path, *args):
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    env.pop("XDG_CONFIG_HOME", None)
    (tmp_path / "home").mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--platform", "spinnaker", "-q", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


@pytest.mark.parametrize(
    ("scale", "npc", "ext"), [(0.01, 64, True), (0.02, 256, False), (0.05, 256, True)]
)
def test_virtual_board_mapping_matches_model(tmp_path, scale, npc, ext):
    pytest.importorskip("spynnaker")
    out = tmp_path / "run"
    args = ["--n-scale", str(scale), "--neurons-per-core", str(npc), "--out", str(out)]
    proc = _dry_run(tmp_path, *args, *([] if ext else ["--no-delay-extensions"]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nothing was simulated" in proc.stdout
    rec = json.loads((out / "run.json").read_text())
    assert rec["simulated"] is False and rec["platform"] == "spinnaker"
    pred = predict_mapping(make_spec(Params(), scale, scale), Knobs(npc, delay_extensions=ext))
    assert rec["mapping"]["cores"] == pred.cores
    assert rec["mapping"]["cores_by_kind"] == {k: v for k, v in pred.cores_by_kind.items() if v}
    assert abs(rec["mapping"]["chips"] - pred.chips) <= max(1, 0.07 * pred.chips)
    assert (out / "spynnaker.cfg").read_text().count("virtual_board = True") == 1
    assert not (tmp_path / "home" / ".spynnaker.cfg").exists()  # the user's home untouched
    job = tmp_path / "jobs" / "run" / "job.yaml"
    assert "--ebrains-job" in job.read_text()


def test_budget_dry_run_and_errors(tmp_path):
    pytest.importorskip("spynnaker")
    proc = _dry_run(tmp_path, "--budget", "cores=120", "--out", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "budget cores=120: fits" in proc.stdout
    rec = json.loads((tmp_path / "b" / "run.json").read_text())
    assert rec["mapping"]["cores"] <= 120 and rec["plan"]["n_scale"] < 1
    proc = _dry_run(tmp_path, "--budget", "cores=10")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: budget cores=10 is too small")
    assert "Traceback" not in proc.stderr
    proc = _dry_run(tmp_path, "--n-scale", "0.1", "--k-scale", "1", "--method", "n")
    assert proc.returncode == 2 and "exceed sPyNNaker's 256" in proc.stderr


def test_missing_spynnaker_is_one_line(monkeypatch):
    from platforms.spinnaker.setup import import_spynnaker

    monkeypatch.setitem(sys.modules, "pyNN.spiNNaker", None)
    with pytest.raises(UserError, match=r"pip install -e '\.\[spinnaker\]'"):
        import_spynnaker()


def test_provenance_problems_are_read_from_sPyNNakers_database(tmp_path):
    """The reader against a provenance database written by sPyNNaker's own writer (a real
    machine's counters cannot be produced here)."""
    pytest.importorskip("spynnaker")
    from spinn_front_end_common.interface.provenance import ProvenanceWriter
    from spinn_utilities.config_holder import set_config
    from spynnaker.pyNN.config_setup import unittest_setup

    from platforms.spinnaker.run import read_provenance

    unittest_setup()
    set_config("Reports", "write_provenance", "True")
    db = str(tmp_path / "provenance.sqlite3")
    with ProvenanceWriter(db) as w:
        w.insert_core(0, 0, 1, "Times_the_timer_tic_over_ran", 2)
        w.insert_core(0, 1, 3, "Number_of_late_spikes", 5)
        w.insert_core(0, 1, 4, "Number_of_late_spikes", 1)
        w.insert_core(0, 1, 3, "Total_pre_synaptic_events", 1000)  # not a problem
        w.insert_core(1, 1, 2, "Times_synaptic_weights_have_saturated", 0)  # zero: omitted
    assert read_provenance(db) == {"Times_the_timer_tic_over_ran": 2, "Number_of_late_spikes": 6}


def test_run_cfg_per_machine_mode():
    from platforms.spinnaker.setup import Machine, cfg_text

    virtual = cfg_text(Machine("virtual", boards=3), Knobs(spikes_per_second=8))
    assert "virtual_board = True" in virtual and "spikes_per_second = 8" in virtual
    assert "write_provenance" not in virtual  # nothing runs, nothing to read
    host = cfg_text(Machine("host", host="spinn-4.local"), Knobs())
    assert "machine_name = spinn-4.local" in host and "virtual_board" not in host
    assert "write_provenance = True" in host
    spalloc = cfg_text(Machine("spalloc", spalloc="https://spalloc.example", boards=6), Knobs())
    assert "spalloc_server = https://spalloc.example" in spalloc
    with pytest.raises(UserError, match="unknown SpiNNaker mode"):
        Machine("cloud")
