"""NEST over MPI: merging the ranks' spikes, and (where NEST was built with MPI, see
platforms/nest/build_mpi_nest.sh) a 2-rank run judged against 1-rank runs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.platforms.mpi import Comm, merge_spikes, root_decides

ROOT = Path(__file__).resolve().parents[1]


def test_merge_spikes_sorts_by_time_then_id():
    a = {"E": (np.array([0, 2]), np.array([1.0, 3.0]))}
    b = {"E": (np.array([1, 3]), np.array([1.0, 2.0]))}
    ids, times = merge_spikes([a, b])["E"]
    assert times.tolist() == [1.0, 1.0, 2.0, 3.0] and ids.tolist() == [0, 1, 3, 2]


def test_single_process_comm_and_root_errors():
    comm = Comm()
    assert comm.size == 1 and comm.is_root and comm.gather(5) == [5]
    assert root_decides(comm, lambda: "x") == "x"
    with pytest.raises(UserError, match="boom"):
        root_decides(comm, lambda: (_ for _ in ()).throw(UserError("boom")))


@pytest.mark.nest
def test_only_rank_zero_reports(tmp_path):
    """Under mpirun every rank runs the command line; a rank other than 0 (as the launcher's
    environment says, before MPI starts) logs warnings only, so each line appears once."""
    args = [sys.executable, str(ROOT / "run.py"), "--n-scale", "0.01", "--t-sim", "50",
            "--t-presim", "10", "--no-analysis"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if "RANK" not in k and "SIZE" not in k}
    for rank, informs in (("0", True), ("1", False)):
        proc = subprocess.run(
            [*args, "--out", str(tmp_path / rank)], env={**env, "OMPI_COMM_WORLD_RANK": rank},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert ("INFO model: n=0.01" in proc.stderr) is informs, proc.stderr[-2000:]


def _mpi_python():
    """A Python whose NEST has MPI: this one, or the venv the build script makes."""
    for py in (os.environ.get("MPI_NEST_PYTHON"), sys.executable):
        if not py or not Path(py).exists():
            continue
        probe = subprocess.run(
            [py, "-c", "import nest; print(nest.GetKernelStatus('build_info')['have_mpi'])"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip().endswith("True"):
            return py
    return None


@pytest.mark.nest
def test_two_ranks_consistent_with_one(tmp_path):
    py = _mpi_python()
    if py is None or shutil.which("mpirun") is None:
        why = "no MPI-enabled NEST (set MPI_NEST_PYTHON to the build's python)"
        if os.environ.get("REQUIRE_MPI_NEST"):  # CI builds it (.ci/mpi_nest): never skip there
            pytest.fail(f"{why}, but REQUIRE_MPI_NEST is set")
        pytest.skip(why)
    common = ["--n-scale", "0.05", "--t-sim", "2000", "--t-presim", "500", "-q", "--no-analysis"]
    mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"]
    out = tmp_path / "mpi"
    proc = subprocess.run(
        [*mpirun, py, str(ROOT / "run.py"), *common, "--threads", "1", "--seed", "1",
         "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads((out / "run.json").read_text())
    assert rec["mpi_ranks"] == 2 and len(rec["peak_rss_bytes_per_rank"]) == 2
    assert rec["n_connections_nest"] >= rec["n_synapses"]
    refs = []
    for seed in (2, 3):
        ref = tmp_path / f"one_{seed}"
        proc = subprocess.run(
            [py, str(ROOT / "run.py"), *common, "--seed", str(seed), "--out", str(ref)],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        refs.append(str(ref))
    proc = subprocess.run(
        [py, str(ROOT / "run.py"), "compare", str(out), "--reference", *refs],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdicts = json.loads(next((out / "comparison").glob("comparison.json")).read_text())
    cells = verdicts["cells"]  # no true difference: any "differs" is a 5 % false alarm
    assert all(c["verdict"] in ("consistent", "no data") for c in cells), proc.stdout
