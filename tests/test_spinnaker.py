"""SpiNNaker: the capacity model (pure maths) and, where sPyNNaker is installed, its own mapper
on a virtual board (no hardware exists here; the virtual board runs the real PACMAN mapping)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pynn_microcircuit.budget import parse_budget, plan
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.platforms.spinnaker.capacity import (
    Knobs,
    budget_capacity,
    pack_chips,
    predict_mapping,
)
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


def test_capacity_constants_mirror_spynnaker_symbols():
    """Each constant of the capacity model is sPyNNaker 7.4.1's own value."""
    pytest.importorskip("spynnaker")
    from spynnaker.pyNN.config_setup import unittest_setup
    from spynnaker.pyNN.models.neuron.synapse_dynamics import SynapseDynamicsStatic
    from spynnaker.pyNN.models.spike_source import spike_source_poisson
    from spynnaker.pyNN.models.utility_models.delays import DelayExtensionVertex
    from spynnaker.pyNN.utilities import constants

    from pynn_microcircuit.platforms.spinnaker import capacity as c

    unittest_setup()
    assert c.DELAY_EXTENSION_SLOTS == DelayExtensionVertex.MAX_SLOTS == 8
    assert c.POISSON_ATOMS_PER_CORE == spike_source_poisson.DEFAULT_MAX_ATOMS_PER_CORE
    assert c.RING_BUFFER_BITS == constants.MAX_RING_BUFFER_BITS
    assert c.MAX_ROW_SYNAPSES == constants.POP_TABLE_MAX_ROW_LENGTH
    assert c.SYNAPSE_EVENTS_PER_CORE_S == SynapseDynamicsStatic().synapses_per_second


def test_thalamic_poisson_cores_counted():
    # n = 0.05 with the thalamus at 64/core, mapped by sPyNNaker 7.4.1 on a virtual board:
    # 197 cores (neuron 65, synapse 65, poisson 65 direct + 2 thalamic), 14 chips
    from pynn_microcircuit.params import params_with_overrides

    spec = make_spec(params_with_overrides({"thalamus": {"enabled": True}}), 0.05, 0.05)
    m = predict_mapping(spec, Knobs(64))
    assert (m.cores, m.cores_by_kind["poisson"], m.chips) == (197, 67, 14)


def test_row_limit_and_synapse_core_limit():
    p = Params()
    # full in-degree with fewer neurons lengthens rows: 64/core fails below n ~ 0.2
    assert not predict_mapping(make_spec(p, 0.15, 1.0, method="n"), Knobs(64)).feasible
    assert predict_mapping(make_spec(p, 0.2, 1.0, method="n"), Knobs(64)).feasible
    bad = predict_mapping(make_spec(p, 0.5, 1.0, method="n"), Knobs(256, time_scale_factor=4))
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
    assert pl12.predicted["settings"]["time_scale_factor"] == 1  # real time, as published
    slow = plan("spinnaker", parse_budget("boards=6,slowdown=20", "spinnaker"), budget_capacity, p)
    assert (slow.n_scale, slow.k_scale) == (1.0, 1.0) and slow.predicted["boards"] <= 6
    with pytest.raises(UserError, match=r"too small for any valid model.*needs cores=\d+"):
        plan("spinnaker", parse_budget("cores=10", "spinnaker"), budget_capacity, p)


def _dry_run(tmp_path, *args, quiet=True):
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    env.pop("XDG_CONFIG_HOME", None)
    (tmp_path / "home").mkdir(exist_ok=True)
    q = ["-q"] if quiet else []
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--platform", "spinnaker", *q, *args],
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
    tsf = npc // 64  # what the neuron cores need at 0.1 ms (test_no_plan_overruns_...)
    args = ["--n-scale", str(scale), "--neurons-per-core", str(npc), "--out", str(out)]
    args += ["--time-scale-factor", str(tsf)]
    proc = _dry_run(tmp_path, *args, *([] if ext else ["--no-delay-extensions"]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nothing was simulated" in proc.stdout
    rec = json.loads((out / "run.json").read_text())
    assert rec["simulated"] is False and rec["platform"] == "spinnaker"
    knobs = Knobs(npc, time_scale_factor=tsf, delay_extensions=ext)
    pred = predict_mapping(make_spec(Params(), scale, scale), knobs)
    assert rec["mapping"]["cores"] == pred.cores
    assert rec["mapping"]["cores_by_kind"] == {k: v for k, v in pred.cores_by_kind.items() if v}
    assert abs(rec["mapping"]["chips"] - pred.chips) <= max(1, 0.07 * pred.chips)
    assert (out / "spynnaker.cfg").read_text().count("virtual_board = True") == 1
    assert not (tmp_path / "home" / ".spynnaker.cfg").exists()  # the user's home untouched
    # weight quanta from sPyNNaker's ring-buffer shifts: 2^(shift - 15) nA (a 16-bit weight
    # shifted left into s16.15); the default mapping changes the input by < 0.1 %
    wq = rec["weight_quantisation"]
    for row in wq["weight_quantum_pA"].values():
        for t, shift in zip(("excitatory", "inhibitory"), row["ring_buffer_shifts"], strict=True):
            assert row[t] == 1e3 * 2.0 ** (shift - 15)
    assert wq["max_input_mean_rel_error"] < 1e-3 and wq["max_input_variance_rel_error"] < 1e-3
    job = tmp_path / "jobs" / "run" / "job.yaml"
    assert "--ebrains-job" in job.read_text()
    # -q: sPyNNaker's INFO lines and progress bars are in the run's log, not on the console
    assert "INFO" not in proc.stderr and "|0%" not in proc.stderr, proc.stderr[-2000:]
    log_text = (out / "spinnaker.log").read_text()
    assert "Read configs files" in log_text and "Placing Vertices" in log_text


def test_unreachable_board_ends_in_one_line_with_the_log_kept(tmp_path):
    """A board that cannot be reached (a name that cannot resolve: sPyNNaker's own transceiver
    fails and retries 4 times): the console holds sPyNNaker's error lines without their
    tracebacks and ends with our one-line error naming the fix and the log; the tracebacks
    are in RUN/spinnaker.log, and sPyNNaker's repeat of its warnings at exit is left out."""
    pytest.importorskip("spynnaker")
    out = tmp_path / "run"
    proc = _dry_run(tmp_path, "--n-scale", "0.01", "--machine", "board.invalid", "--out", str(out))
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: sPyNNaker failed on the host machine 'board.invalid'")
    assert "check the machine is reachable" in lines[-1] and str(out / "spinnaker.log") in lines[-1]
    assert "Traceback" not in proc.stderr and len(lines) < 20, lines
    assert "Traceback" in (out / "spinnaker.log").read_text()


def test_spinnaker_log_kept_apart_from_the_progress(tmp_path):
    """Without -q the console shows our progress in our format and sPyNNaker's progress bars,
    not sPyNNaker's ~100 INFO lines (which its cfg loading would otherwise also impose its
    timestamped format on); those go whole to RUN/spinnaker.log."""
    pytest.importorskip("spynnaker")
    out = tmp_path / "run"
    proc = _dry_run(tmp_path, "--n-scale", "0.01", "--out", str(out), quiet=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert "INFO connected L23E (6/55 projections" in proc.stderr
    assert not [x for x in lines if re.match(r"\d{4}-\d\d-\d\d .*INFO", x)], lines[:20]
    assert "Placing Vertices" in proc.stderr  # sPyNNaker's own progress stays visible
    log_text = (out / "spinnaker.log").read_text()
    assert log_text.count("skipped as virtual_board") >= 10


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
    from pynn_microcircuit.platforms.spinnaker.setup import import_spynnaker

    monkeypatch.setitem(sys.modules, "pyNN.spiNNaker", None)
    with pytest.raises(UserError, match=r"pip install -e '\.\[spinnaker\]'"):
        import_spynnaker()


def _provenance_db(path, cores=(), routers=()):
    """A provenance database written by sPyNNaker's own ProvenanceWriter (a real machine's
    counters cannot be produced here)."""
    from spinn_front_end_common.interface.provenance import ProvenanceWriter
    from spinn_utilities.config_holder import set_config
    from spynnaker.pyNN.config_setup import unittest_setup

    unittest_setup()
    set_config("Reports", "write_provenance", "True")
    with ProvenanceWriter(str(path)) as w:
        for x, y, p, name, value in cores:
            w.insert_core(x, y, p, name, value)
        for x, y, name, value in routers:
            w.insert_router(x, y, name, value)
    return path


#: Diagnostics that are non-zero on every healthy run, and fault counters at zero.
CLEAN_CORES = [
    (0, 0, 1, "Latest_Send_time", 9_500),
    (0, 0, 1, "Earliest_send_time", 120),
    (0, 0, 2, "Latest_receive_time", 9_800),
    (0, 0, 2, "Max_filled_size_input_buffer", 37),
    (0, 0, 2, "Total_pre_synaptic_events", 1_000_000),
    (0, 0, 2, "Max_backgrounds_queued", 3),
    (0, 0, 1, "Timer tick overruns", 0),
    (0, 0, 2, "Times_a_time_step_was_skipped", 0),
    (0, 0, 2, "Times_the_dma_queue_was_overloaded", 0),
]
#: Router rows as sPyNNaker 7.4.1 writes them: the phase ("Load", "Run", "Extract";
#: abstract_spinnaker_base.py) glued to the counter (router_provenance_gatherer.py).
CLEAN_ROUTERS = [
    (0, 0, "RunLocal_Multicast_Packets", 40_000),
    (0, 0, "RunExternal_Multicast_Packets", 30_000),
    (0, 0, "RunDropped_Multicast_Packets", 0),
    (0, 0, "RunDropped_P2P_Packets", 2),  # system traffic, not spikes
    (0, 0, "LoadDropped_Multicast_Packets", 40),  # loading: no spikes yet
    (0, 0, "ExtractDropped_Multicast_Packets", 12),  # reading back: no spikes any more
]


def test_provenance_verdict_clean_run_is_valid(tmp_path):
    pytest.importorskip("spynnaker")
    from pynn_microcircuit.platforms.spinnaker.provenance import summary, verdict

    db = _provenance_db(tmp_path / "p.sqlite3", CLEAN_CORES, CLEAN_ROUTERS)
    v = verdict(db)
    assert v == {"read": True, "valid": True, "faults": [], "totals": {}}
    assert summary(v) is None


@pytest.mark.parametrize(
    ("counter", "kind"),
    [
        ("Timer tick overruns", "timer overrun"),
        ("Times_the_timer_tic_over_ran", "timer overrun"),
        ("Times_a_time_step_was_skipped", "skipped time step"),
        ("Times_the_transfer_did_not_complete_in_time", "incomplete DMA transfer"),
        ("Times_the_dma_queue_was_overloaded", "queue overload"),
        ("Times_the_user_queue_was_overloaded", "queue overload"),
        ("Times_the_callback_queue_was_overloaded", "queue overload"),
        ("Times_the_transmission_of_spikes_overran", "spike transmission overrun"),
        ("Times_the_input_buffer_lost_packets", "input buffer overflow"),
        ("Skipped synapses", "skipped synapses"),
        ("router:RunDropped_Multicast_Packets", "router dropped packets (not re-injected)"),
        (
            "router:RunDropped_Multicast_Packets_via_local_transmission",
            "router dropped packets (no route)",
        ),
        ("router:RunMissed_For_Reinjection", "router dropped packets (missed re-injection)"),
        ("router:RunReinjection_Overflows", "router dropped packets (re-injection overflow)"),
    ],
)
def test_provenance_verdict_names_each_fault(tmp_path, counter, kind):
    pytest.importorskip("spynnaker")
    from pynn_microcircuit.platforms.spinnaker.provenance import summary, verdict

    routers = list(CLEAN_ROUTERS)
    cores = list(CLEAN_CORES)
    if counter.startswith("router:"):
        routers.append((2, 3, counter.split(":", 1)[1], 17))
        where = "router 2,3"
    else:
        cores.append((2, 3, 5, counter, 17))
        where = "core 2,3,5"
    v = verdict(_provenance_db(tmp_path / "p.sqlite3", cores, routers))
    assert v["valid"] is False
    assert len(v["faults"]) == 1
    f = v["faults"][0]
    assert (f["kind"], f["counter"], f["x"], f["y"], f["value"]) == (
        kind,
        counter.removeprefix("router:"),
        2,
        3,
        17,
    )
    line = summary(v)
    assert line.startswith("INVALID SpiNNaker run: " + kind) and where in line


def test_provenance_missing_keeps_spikes_and_says_so(tmp_path):
    from pynn_microcircuit.platforms.spinnaker.provenance import summary, verdict
    from pynn_microcircuit.platforms.spinnaker.run import provenance_record

    assert verdict(tmp_path / "absent.sqlite3")["valid"] is None
    (tmp_path / "corrupt.sqlite3").write_bytes(b"not a database at all" * 10)
    rec = provenance_record(tmp_path, str(tmp_path / "corrupt.sqlite3"), None)
    assert rec["valid"] is None and rec["provenance"]["read"] is False
    assert summary(rec["provenance"]).startswith("SpiNNaker provenance missing")


def test_provenance_tables_copied_into_run_dir(tmp_path):
    pytest.importorskip("spynnaker")
    from pynn_microcircuit.platforms.spinnaker.provenance import copy_provenance, verdict

    cores = [*CLEAN_CORES, (1, 0, 4, "Times_the_input_buffer_lost_packets", 3)]
    db = _provenance_db(tmp_path / "p.sqlite3", cores, CLEAN_ROUTERS)
    (tmp_path / "run").mkdir()
    copied = copy_provenance(db, tmp_path / "run")
    assert verdict(copied) == verdict(db)  # the run directory alone gives the same verdict


def test_run_cfg_per_machine_mode():
    from pynn_microcircuit.platforms.spinnaker.setup import MACHINE_KEYS, Machine, cfg_text

    for machine in (
        Machine("virtual", boards=3),
        Machine("host", host="spinn-4.local"),
        Machine("spalloc", spalloc="https://u:pw@spalloc.example/", boards=6),
    ):
        text = cfg_text(machine)
        for key in MACHINE_KEYS:  # every mode's key named, so no user cfg can add one
            assert text.count(f"\n{key} = ") == 1, (machine.mode, key)
        assert "pw" not in text
    virtual = cfg_text(Machine("virtual", boards=3))
    assert "virtual_board = True" in virtual and "spalloc_server = None" in virtual
    host = cfg_text(Machine("host", host="spinn-4.local"))
    assert "machine_name = spinn-4.local" in host and "virtual_board = False" in host
    spalloc = cfg_text(Machine("spalloc", spalloc="https://u:pw@spalloc.example/"))
    assert "spalloc_server = https://spalloc.example/" in spalloc
    assert Machine("spalloc", spalloc="https://u:pw@s.example/").to_dict()["spalloc"] == (
        "https://s.example/"
    )
    with pytest.raises(UserError, match="unknown SpiNNaker mode"):
        Machine("cloud")
    with pytest.raises(UserError, match="platform's spynnaker.cfg"):
        cfg_text(Machine("ebrains"))


def test_spalloc_credentials(monkeypatch):
    from pynn_microcircuit.platforms.spinnaker.setup import spalloc_credentials

    for k in ("SPALLOC_USER", "SPALLOC_PASSWORD", "OIDC_BEARER_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(UserError, match="no spalloc credentials: set SPALLOC_USER"):
        spalloc_credentials("https://spalloc.example/")
    assert spalloc_credentials("https://ann:pw@s.example/") == {
        "SPALLOC_USER": "ann",
        "SPALLOC_PASSWORD": "pw",
    }
    monkeypatch.setenv("OIDC_BEARER_TOKEN", "t")
    assert spalloc_credentials("https://s.example/") == {}


def test_user_cfg_lookup_honours_xdg(tmp_path, monkeypatch):
    from pynn_microcircuit.platforms.spinnaker.setup import user_cfg

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", f"{tmp_path / 'site'}:/nonexistent")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert user_cfg() is None
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / ".spynnaker.cfg").write_text("[Machine]\n")
    assert user_cfg() == tmp_path / "site" / ".spynnaker.cfg"


def test_dry_run_with_a_users_spalloc_cfg(tmp_path):
    """A user cfg that selects spalloc (the usual one) must not break the dry run: the run's
    cfg names every machine key, so the two never combine into an invalid pair."""
    pytest.importorskip("spynnaker")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".spynnaker.cfg").write_text(
        "[Machine]\nspalloc_server = https://spalloc.example.org/\nspalloc_user = ann\n"
        "version = 5\n"
    )
    proc = _dry_run(tmp_path, "--budget", "cores=120", "--out", str(tmp_path / "u"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "budget cores=120: fits" in proc.stdout
    assert (home / ".spynnaker.cfg").read_text().count("spalloc_server") == 1  # untouched


def test_invalid_spinnaker_run_is_said_first_in_report_and_compare(tmp_path, caplog):
    from test_analysis import make_run

    from pynn_microcircuit.analysis.report import analyse, compare_runs
    from pynn_microcircuit.runrecord import RunRecord

    run = make_run(tmp_path / "bad", 1)
    rec = RunRecord.read(run)
    note = "INVALID SpiNNaker run: timer overrun (e.g. Timer tick overruns = 4 on core 0,0,3)"
    rec.details.update(valid=False, validity_note=note)
    (run / "run.json").unlink()
    rec.write(run)
    html = (analyse(run) / "report.html").read_text()
    assert html.index("INVALID SpiNNaker run") < html.index("Summary")
    refs = [make_run(tmp_path / f"r{s}", s) for s in (2, 3)]
    with caplog.at_level("WARNING"):
        out, _ = compare_runs(run, refs)
    assert any(note in r.getMessage() for r in caplog.records)
    assert json.loads((out / "comparison.json").read_text())["warnings"] == [f"bad: {note}"]
    html = (out / "report.html").read_text()
    assert html.index("INVALID SpiNNaker run") < html.index("Verdicts")


def test_spinnaker_plan_states_the_weight_resolution():
    """plan --platform spinnaker: the quanta sPyNNaker computes for the planned model, the
    input errors they cause, and the tolerance verdict."""
    pytest.importorskip("spynnaker")
    res = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "plan", "--platform", "spinnaker", "--budget",
         "cores=60", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    wq = json.loads(res.stdout)["weight_quantisation"]
    for row in wq["weight_quantum_pA"].values():
        for t, shift in zip(("excitatory", "inhibitory"), row["ring_buffer_shifts"], strict=True):
            assert row[t] == 1e3 * 2.0 ** (shift - 15)
    assert wq["within_tolerance"] is True and wq["max_input_variance_rel_error"] < 0.01


@pytest.mark.parametrize(
    ("monitor", "lost"),
    [
        ({"Received_For_Reinjection": 17, "Reinjected": 17}, None),  # all re-injected
        ({"Received_For_Reinjection": 5, "Reinjected": 5}, 7.0),  # 10 of 17 accounted
        ({}, 17.0),  # no extra monitor on the chip: nothing re-injected them
    ],
)
def test_router_drops_count_only_when_not_reinjected(tmp_path, monitor, lost):
    """sPyNNaker's own rule (router_provenance_gatherer.py): dropped multicast packets are
    lost only where the chip's monitor did not account for them; the other phases' rows are
    not the run's."""
    pytest.importorskip("spynnaker")
    from pynn_microcircuit.platforms.spinnaker.provenance import verdict

    routers = [*CLEAN_ROUTERS, (1, 1, "RunDropped_Multicast_Packets", 17)]
    routers += [(1, 1, "Run" + k, v) for k, v in monitor.items()]
    routers += [(1, 1, "Load" + k, 0) for k in ("Received_For_Reinjection", "Reinjected")]
    v = verdict(_provenance_db(tmp_path / "p.sqlite3", CLEAN_CORES, routers))
    if lost is None:
        assert v["valid"] is True and v["faults"] == []
    else:
        assert v["valid"] is False
        assert [(f["x"], f["y"], f["value"]) for f in v["faults"]] == [(1, 1, lost)]
        assert v["faults"][0]["kind"] == "router dropped packets (not re-injected)"


PROVENANCE_PROBE = """
import json, sys
from pathlib import Path
import pynn_microcircuit.platforms.spinnaker.run as r
from pynn_microcircuit.params import Params
from pynn_microcircuit.platforms.spinnaker.capacity import Knobs
from pynn_microcircuit.platforms.spinnaker.compat import synapses_generated_on_machine
from pynn_microcircuit.platforms.spinnaker.setup import Machine
from pynn_microcircuit.runner import RunOptions
from pynn_microcircuit.scaling import make_spec

r.on_virtual_board = lambda: False  # the run takes the virtual board for hardware
seen = []
databases = r.run_databases
r.run_databases = lambda: seen.append(databases()) or seen[-1]
spec = make_spec(Params(), 0.01, 0.01)
opts = RunOptions(t_presim_ms=10.0, t_sim_ms=20.0, seed=1, record_fraction=1.0)
with synapses_generated_on_machine():  # no host-generated synapses on the virtual board
    run_dir = r.run_spinnaker(spec, opts, Knobs(), Machine("virtual", boards=1), out=sys.argv[1])
rec = json.loads((Path(run_dir) / "run.json").read_text())
print(json.dumps({"provenance": rec["provenance"], "database": seen[0][0],
                  "exists_after_end": Path(seen[0][0]).exists()}))
"""


def test_provenance_is_read_before_spinnaker_deletes_it(tmp_path):
    """Hardware runs use ``mode = Production``, in which sPyNNaker deletes the run's database
    (recordings and provenance) at ``end()`` (``keep_data_database``,
    abstract_spinnaker_base.py): the run must read it before. A real sPyNNaker run on a
    virtual board, taken for hardware, in that mode: the database is gone after the run, and
    the run read it (before this order was fixed: ``valid: null``, "no provenance database")."""
    pytest.importorskip("spynnaker")
    res = subprocess.run(
        [sys.executable, "-c", PROVENANCE_PROBE, str(tmp_path / "run")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["exists_after_end"] is False  # Production mode deleted it at end()
    assert out["provenance"]["read"] is True and out["provenance"]["valid"] is True
    assert (tmp_path / "run" / "provenance.sqlite3").is_file()


def test_no_plan_overruns_the_neuron_cores():
    """The neuron cores' time step: 64 LIF neurons per core in real time at dt = 0.1 ms, the
    published operating point (Rhodes et al. 2020), scaled by the time per step: 128 at
    twice the slowdown, 640 at dt = 1 ms (sPyNNaker's default 256 fits there). No plan
    offered exceeds it, and the plan says which bound set its slowdown."""
    from pynn_microcircuit.platforms.spinnaker.capacity import (
        max_neurons_per_core,
        neuron_slowdown,
    )

    assert [max_neurons_per_core(0.1, t) for t in (1, 2, 20)] == [64, 128, 1280]
    assert max_neurons_per_core(1.0, 1) == 640
    assert [neuron_slowdown(n, 0.1) for n in (32, 64, 65, 256)] == [1, 1, 2, 4]
    p = Params()
    for budget in ("cores=800", "cores=3000", "boards=1", "boards=6,slowdown=20"):
        pl = plan("spinnaker", parse_budget(budget, "spinnaker"), budget_capacity, p)
        knobs = pl.predicted["settings"]
        assert knobs["neurons_per_core"] <= 64 * knobs["time_scale_factor"], (budget, knobs)
        need = pl.predicted["slowdown_needed"]
        assert knobs["time_scale_factor"] >= max(need["neuron_updates"], need["synapse_events"])
        line = next(x for x in pl.explanation if x.startswith("time step budget"))
        assert f"set by {need['set_by'].replace('_', ' ')}" in line
    # 256 per core in real time at 0.1 ms: not offered, and a hand-set mapping is refused
    spec = make_spec(p, 0.2, 0.2)
    m = predict_mapping(spec, Knobs(neurons_per_core=256, time_scale_factor=1))
    assert not m.feasible and "overrun the neuron cores' time step" in m.problems[0]
    assert "at least 4" in m.problems[0]
    assert predict_mapping(spec, Knobs(neurons_per_core=256, time_scale_factor=4)).feasible


def test_board_version_and_old_style_spalloc(monkeypatch, tmp_path):
    """--board-version reaches the cfg (3: SpiNN-3); spalloc serves SpiNN-5 boards
    (version = 5, no deprecated 'None'); an old-style ``spalloc://user@host:port`` goes to the
    cfg whole, as sPyNNaker's parse_old_spalloc reads user and port from it, and needs no
    password."""
    from pynn_microcircuit.platforms.spinnaker.setup import Machine, cfg_text, run_environment

    def cfg(machine):
        lines = cfg_text(machine).splitlines()
        return dict(line.split(" = ", 1) for line in lines if " = " in line)

    assert cfg(Machine("host", host="spinn-3.local", board_version=3))["version"] == "3"
    assert cfg(Machine("host", host="spinn-5.local"))["version"] == "5"
    with pytest.raises(UserError, match="board version 4 is not one of"):
        Machine("host", host="x", board_version=4)
    new = cfg(Machine("spalloc", spalloc="https://u:pw@spalloc.example/", boards=3))
    assert new["version"] == "5" and new["spalloc_server"] == "https://spalloc.example/"
    old = Machine("spalloc", spalloc="spalloc://alice@spalloc.example:22244", boards=3)
    assert cfg(old)["spalloc_server"] == "spalloc://alice@spalloc.example:22244"
    assert old.to_dict()["spalloc"] == "spalloc://alice@spalloc.example:22244"
    for key in ("SPALLOC_USER", "SPALLOC_PASSWORD", "OIDC_BEARER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "run").mkdir()
    with run_environment(tmp_path / "run", old):  # no credentials asked for
        pass
    pytest.importorskip("spinn_front_end_common")
    from spinn_front_end_common.utilities.utility_calls import parse_old_spalloc

    assert parse_old_spalloc(cfg(old)["spalloc_server"], None, None) == (
        "spalloc.example", 22244, "alice",
    )  # fmt: skip


def test_delays_sent_so_that_the_boards_truncation_rounds():
    """The synapse expander truncates ``delay x steps per ms`` (sPyNNaker's
    ``matrix_generator.h``, ``rescale_delay``); NEST rounds. The distribution sent to the board
    is shifted by 0.49 of a step (not its upper bound, from which sPyNNaker sizes the delay
    slots), so the board's truncation gives NEST's step for every delay off the 0.50-0.51
    band."""
    import numpy as np
    import pyNN.mock as mock

    from pynn_microcircuit.platforms.spinnaker.backend import SpinnakerBackend

    mock.setup(timestep=0.1)
    backend = SpinnakerBackend(mock, 1, Knobs(64), 0.1)
    dist = backend._delay((0, 0), (1.5, 0.75), 0.1, 12.8)
    assert dist.name == "normal_clipped"
    p = dist.parameters
    assert (p["mu"], p["sigma"], p["low"], p["high"]) == pytest.approx((1.549, 0.75, 0.149, 12.8))
    d = np.random.default_rng(1).uniform(0.1, 12.8 - 0.049, 100_000)
    board = np.floor((d + 0.049) / 0.1 + 1e-9)  # what the chip stores
    nest = np.rint(d / 0.1)
    band = (d / 0.1) % 1
    assert np.all(board[(band < 0.5) | (band >= 0.51)] == nest[(band < 0.5) | (band >= 0.51)])
    mock.end()
