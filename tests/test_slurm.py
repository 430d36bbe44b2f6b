"""SLURM job scripts, and a real single-node SLURM (slurmctld + slurmd on localhost, started
here) running a two-seed reference ensemble end to end."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pynn_microcircuit.platforms.slurm import local_cluster

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-scale", "0.02", "--t-sim", "200", "--t-presim", "100"]


def cli(args, cwd, **env):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_scripts_for_run_reference_and_sweep(tmp_path):
    rc, out = cli(
        ["submit", "--scheduler", "slurm", "--dry-run", "--name", "one", "--ranks", "2",
         "--partition", "big", "run", "--n-scale", "1", "--k-scale", "1", "--t-sim", "10000"],
        tmp_path,
    )  # fmt: skip
    assert rc == 0, out
    script = (tmp_path / "jobs" / "one" / "run.sbatch").read_text()
    assert "#SBATCH --ntasks=2" in script and "#SBATCH --partition=big" in script
    assert 'mpirun -np "$SLURM_NTASKS"' in script and "--array" not in script
    mem = int(re.search(r"--mem=(\d+)M", script).group(1))
    # full scale, 10 s: 14.1 GiB + recorded spikes + a second rank, +30 % and 200 MiB
    assert 14 * 1024 * 1.3 < mem < 16 * 1024 * 1.3 + 200
    assert not (tmp_path / "jobs" / "one" / "submission.json").exists()
    # the request is printed, and threads not given are said to be this machine's cores
    cpus = re.search(r"--cpus-per-task=(\d+)", script).group(1)
    wall = re.search(r"--time=(\S+)", script).group(1)
    said = re.search(r"each task asks for (\d+) CPUs \((.*?)\), ([\d.]+) GiB and (\S+) ", out)
    assert said and said[1] == cpus and said[4] == wall, out
    assert float(said[3]) == pytest.approx(mem / 1024, abs=0.05)
    assert "this machine's cores; pass --threads N" in said[2]

    rc, out = cli(
        ["submit", "--scheduler", "slurm", "--dry-run", "--name", "ref", "reference",
         *TINY, "--seeds", "3-5", "--out", "refdir", "--threads", "3"],
        tmp_path,
    )  # fmt: skip
    assert rc == 0, out
    job = tmp_path / "jobs" / "ref"
    script = (job / "run.sbatch").read_text()
    assert "#SBATCH --array=0-2" in script and "#SBATCH --cpus-per-task=3" in script
    assert "each task asks for 3 CPUs (--threads)" in out
    for i, seed in enumerate((3, 4, 5)):
        assert re.search(rf"  {i}\) .*--seed {seed} .*--out refdir/seed_{seed} ;;", script)
    assert "-m pynn_microcircuit reference --n-scale 0.02" in (job / "finalize.sbatch").read_text()

    rc, out = cli(
        ["submit", "--scheduler", "slurm", "--dry-run", "--name", "sw", "sweep",
         "--reference", "refdir", "--methods", "n,sqrt-k,linear-k", "--scales", "0.04,0.02",
         "--t-sim", "200", "--t-presim", "100", "--out", "swdir"],
        tmp_path,
    )  # fmt: skip
    assert rc == 2 and "has no finished reference run" in out  # the reference must exist

    rc, out = cli(["submit", "--scheduler", "slurm", "--name", "one", "run"], tmp_path)
    assert rc == 2 and "exists; choose another --name" in out


def test_sbatch_missing_is_one_line(tmp_path):
    rc, out = cli(["submit", "--scheduler", "slurm", "run", *TINY], tmp_path, PATH="/nonexistent")
    assert rc == 2 and "sbatch not found" in out and "Traceback" not in out


@pytest.mark.nest
def test_reference_ensemble_through_local_slurm(tmp_path):
    why = local_cluster.available()
    if why:
        if os.environ.get("REQUIRE_SLURM"):  # CI installs it (.ci/run): never skip there
            pytest.fail(f"no local SLURM: {why}, but REQUIRE_SLURM is set")
        pytest.skip(f"no local SLURM: {why}")
    conf = local_cluster.start(tmp_path / "slurm")
    try:
        env = {"SLURM_CONF": str(conf)}
        rc, out = cli(
            ["submit", "--scheduler", "slurm", "--name", "ref", "reference", *TINY,
             "--seeds", "0-1", "--out", "refdir"],
            tmp_path,
            **env,
        )  # fmt: skip
        assert rc == 0, out
        ids = json.loads((tmp_path / "jobs" / "ref" / "submission.json").read_text())
        assert set(ids) == {"run", "finalize"}
        assert local_cluster.wait_idle(conf, timeout=600)
        summary = json.loads((tmp_path / "refdir" / "summary.json").read_text())
        assert summary["seeds"] == [0, 1]
        # a third seed run locally is judged against the SLURM-made ensemble
        rc, out = cli(["-q", "--no-analysis", *TINY, "--seed", "7", "--out", "r7"], tmp_path)
        assert rc == 0, out
        rc, out = cli(["compare", "r7", "--reference", "refdir"], tmp_path)
        assert rc == 0, out
        assert "L23E" in out and "report:" in out
    finally:
        local_cluster.stop(tmp_path / "slurm")
