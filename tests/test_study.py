"""Reference ensembles and sweeps: grid, bookkeeping, resuming after an interrupt (tiny NEST
runs in child processes, as users run them)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pynn_microcircuit.analysis.study import cached_statistics, kept_table
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.study import (
    Cell,
    claim_study_dir,
    feasibility,
    is_finished,
    method_cell,
    parse_list,
    parse_seeds,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-scale", "0.02", "--t-sim", "100", "--t-presim", "50"]


def test_parse_seeds_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("1,3,7-8") == [1, 3, 7, 8]
    with pytest.raises(UserError, match="repeats a seed"):
        parse_seeds("1,1")
    with pytest.raises(UserError, match="use e.g. 0-4"):
        parse_seeds("a-b")
    with pytest.raises(UserError, match="is not one of"):
        parse_list("n,sqrtk", "--methods", ("n", "sqrt-k"))


def test_grid_cells_and_feasibility():
    assert method_cell("n", 0.2, 3) == Cell("n", 0.2, 1.0, 3)
    assert method_cell("sqrt-k", 0.2, 3) == Cell("sqrt-k", 0.2, 0.2, 3)
    # scale 1 is one model whatever the method: one run, reused
    assert {method_cell(m, 1.0, 0) for m in ("n", "sqrt-k", "none")} == {Cell("none", 1, 1, 0)}
    why = feasibility(method_cell("linear-k", 0.5, 0), Params())
    assert why.startswith("linear-k cannot keep the input variance at k=0.5")
    assert feasibility(method_cell("linear-k", 0.95, 0), Params()) is None
    # linear-k with partial compensation, and N-scaling at a reduced in-degree
    part = method_cell("linear-k-partial", 0.5, 0)
    assert part == Cell("linear-k", 0.5, 0.5, 0, allow_partial=True)
    assert "--allow-partial" in part.args() and feasibility(part, Params()) is None
    assert method_cell("n@0.5", 0.2, 1) == Cell("sqrt-k", 0.2, 0.5, 1)


def test_default_sweep_dry_run_shows_every_scaling_option(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "sweep", "--dry-run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in (
        "linear-k_n0.95_k0.95_s0",  # feasible linear-k
        "linear-k_n0.92_k0.92_s0",
        "linear-k-partial_n0.2_k0.2_s0",  # below k_min, partial compensation
        "sqrt-k_n0.1_k0.5_s0",  # N-scaling at k < 1
    ):
        assert name in proc.stdout, name
    assert not (tmp_path / "runs").exists()  # a dry run claims nothing
    # one column each: every row's memory ends where the header's 'memory' does
    end = None
    for line in proc.stdout.splitlines():
        if line.startswith("run "):
            end = line.index("memory") + len("memory")
        elif line.endswith(("to run", "(reused)")):
            assert line[end - 1] == "G", line


def test_study_dir_refuses_other_options(tmp_path):
    claim_study_dir(tmp_path / "ref", "reference", {"n_scale": 1.0, "t_sim_ms": 1000.0})
    claim_study_dir(tmp_path / "ref", "reference", {"n_scale": 1.0, "t_sim_ms": 1000.0})
    with pytest.raises(UserError, match="made with t_sim_ms=1000.0, not 2000.0"):
        claim_study_dir(tmp_path / "ref", "reference", {"n_scale": 1.0, "t_sim_ms": 2000.0})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("mine")
    with pytest.raises(UserError, match="not a reference directory"):
        claim_study_dir(tmp_path / "other", "reference", {})
    assert (tmp_path / "other" / "x.txt").read_text() == "mine"


def test_kept_table():
    """Calibrated cells decide the statistics, the distance rule the spectrum."""

    def cell(pop, stat, verdict, effect=None):
        c = {"population": pop, "statistic": stat, "verdict": verdict}
        return c if effect is None else {**c, "effect_size": effect}

    comparison = {
        "distances": {
            "A": {"spectrum": {"verdict": "consistent", "ratio": 0.5}},
            "B": {"spectrum": {"verdict": "differs", "ratio": 3.0}},
        },
        "cells": [
            cell("A", "rate", "consistent", 0.05),
            cell("B", "rate", "equivalent", -0.08),
            cell("A", "cv_isi", "differs", 0.2),
            cell("B", "cv_isi", "differs"),  # one-sided: no effect size
            cell("A", "correlation_rescaled", "no data"),
        ],
    }
    row = kept_table({("n", 0.5): comparison})["n"][0.5]
    assert row["rates_hz"] == (True, 0.08, 0)
    assert row["cv_isi"] == (False, 0.2, 1)
    assert row["spectrum"] == (False, 3.0, 0)
    assert "correlations_rescaled" not in row  # nothing judged


def _cli(args, **kw):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=kw.pop("cwd", None),
        **kw,
    )


def _wait_for(pred, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.nest
def test_reference_resumes_after_kill_and_sweep_reuses(tmp_path):
    ref = tmp_path / "ref"
    args = ["reference", *TINY, "--seeds", "0-2", "--out", str(ref)]
    proc = _cli(args, start_new_session=True)
    # kill everything (parent and its NEST child) while the second seed is running
    assert _wait_for(lambda: is_finished(ref / "seed_0"))
    _wait_for(lambda: (ref / "seed_1").exists() and not is_finished(ref / "seed_1"), 30)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not is_finished(ref / "seed_2")
    first = (ref / "seed_0" / "run.json").stat().st_mtime_ns
    out, err = _cli(args).communicate()
    assert "runs to do" in out and "done (reused)" in out
    assert all(is_finished(ref / f"seed_{s}") for s in range(3))
    assert (ref / "seed_0" / "run.json").stat().st_mtime_ns == first  # not redone
    summary = json.loads((ref / "summary.json").read_text())
    assert summary["seeds"] == [0, 1, 2]
    assert "mean_rate_hz" in summary["band_mean_sd"]["L4E"]
    # a rerun has nothing to do
    out, _ = _cli(args).communicate()
    assert "0 of 3 runs to do" in out

    # sweep against it; SIGINT (Ctrl-C) in the middle, then finish
    sw = tmp_path / "sw"
    sargs = ["sweep", "--reference", str(ref), "--methods", "sqrt-k,none,linear-k"]
    sargs += ["--scales", "0.02,0.015", "--t-sim", "100", "--t-presim", "50", "--out", str(sw)]
    proc = _cli(sargs, start_new_session=True)
    assert _wait_for(lambda: any(is_finished(d) for d in sw.glob("*_s0")))
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    done_before = {
        d.name: (d / "run.json").stat().st_mtime_ns for d in sw.glob("*_s0") if is_finished(d)
    }
    assert done_before and not (sw / "results.json").exists()
    assert not [d for d in sw.glob("*_s0") if not is_finished(d)]  # partial run removed
    out, err = _cli(sargs).communicate()
    assert "linear-k at 0.02: not run - linear-k cannot keep the input variance" in out, err
    for name, mtime in done_before.items():
        assert (sw / name / "run.json").stat().st_mtime_ns == mtime
    results = json.loads((sw / "results.json").read_text())
    assert set(results["runs"]) == {
        f"{m}@{s}/s0" for m in ("sqrt-k", "none") for s in ("0.02", "0.015")
    }
    assert results["kept"]["sqrt-k"]["0.02"]["rates_hz"][0] is True  # the reference model
    for q in ("mean_rate_hz", "mean_correlation", "synchrony"):
        assert (sw / "figures" / f"{q}.png").stat().st_size > 10_000


def test_statistics_cache_roundtrip(tmp_path):
    from test_analysis import make_run

    run = make_run(tmp_path / "r", 1)
    cache = tmp_path / "stats" / "r.npz"
    fresh = cached_statistics(run, cache)
    again = cached_statistics(run, cache)
    assert cache.is_file()
    for pop in fresh:
        for key in ("rates_hz", "cv_isi", "correlations", "spectrum_psd"):
            np.testing.assert_array_equal(fresh[pop][key], again[pop][key])
        assert again[pop]["synchrony"] == pytest.approx(fresh[pop]["synchrony"])
        assert again[pop]["noise"]["synchrony_sem"] == fresh[pop]["noise"]["synchrony_sem"]


def test_plan_that_does_not_fit_is_refused(tmp_path):
    from pynn_microcircuit.study import StudyPlan, check_fits_machine

    cell = Cell("none", 1.0, 1.0, 0)
    plan = StudyPlan(
        [(cell, tmp_path / "c")], predictions={cell.name: {"memory": 30 * 2**30, "walltime": 1}}
    )
    with pytest.raises(UserError, match=r"needs 30.0 GiB.*submit --scheduler slurm"):
        check_fits_machine(plan, memory_bytes=24 * 2**30)
    check_fits_machine(plan, memory_bytes=64 * 2**30)  # fits a larger machine


def test_study_refuses_what_a_single_run_would_refuse(tmp_path, monkeypatch):
    """A run within 90 % of the memory but not with the planner's 3 % margin: the single
    run's check (machine.check_fits) stops it, so the study must refuse it before starting."""
    from pynn_microcircuit.machine import ENV_MEMORY, USABLE_FRACTION, fits_memory
    from pynn_microcircuit.study import StudyPlan, check_fits_machine

    machine = 24 * 2**30
    monkeypatch.setenv(ENV_MEMORY, "24GiB")
    cell = Cell("none", 1.0, 1.0, 0)
    for share, fits in ((0.99, False), (0.96, True)):
        need = share * USABLE_FRACTION * machine
        plan = StudyPlan(
            [(cell, tmp_path / "c")], predictions={cell.name: {"memory": need, "walltime": 1}}
        )
        assert fits_memory(need) is fits
        if fits:
            check_fits_machine(plan, memory_bytes=machine)
        else:
            with pytest.raises(UserError, match="would not fit this machine's 24 GiB"):
                check_fits_machine(plan, memory_bytes=machine)
