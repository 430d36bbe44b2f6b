"""Analyse a full-scale-sized data set: time and peak memory of ``run.py analyse``.

Writes a synthetic run directory shaped like a full-scale PD14 run (77,169 neurons, every
neuron recorded, ``--t-sim`` ms after a 500 ms warm-up) whose neurons fire as Poisson processes
with gamma-distributed rates around the published population means (Potjans & Diesmann 2014,
Fig. 6; shape 2, so rates span 0-4x the mean like the model's), then runs the CLI's ``analyse``
in a fresh process and reports its wall time and peak RSS against the targets (60 s, 4 GiB)::

    python benchmarks/analysis_fullscale.py            # 10 s of activity, seed 0
    python benchmarks/analysis_fullscale.py --t-sim 2000

The data set goes to a temporary folder that is removed afterwards (``--keep DIR`` keeps it).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pynn_microcircuit.params import Params
from pynn_microcircuit.rundir import write_spikes
from pynn_microcircuit.runrecord import RunRecord

ROOT = Path(__file__).resolve().parents[1]

T_PRESIM_MS = 500.0


def synthetic_run(path: Path, t_sim_ms: float, seed: int) -> int:
    """Write the run directory; returns the number of spikes."""
    p = Params()
    rng = np.random.default_rng(seed)
    t0, t1 = 0.0, T_PRESIM_MS + t_sim_ms
    spikes, sizes, total = {}, {}, 0
    for name, n, rate in zip(p.populations, p.n_full, p.full_rates_hz):
        rates = rng.gamma(2.0, rate / 2.0, size=n)
        counts = rng.poisson(rates * (t1 - t0) * 1e-3)
        ids = np.repeat(np.arange(n), counts)
        times = np.round(rng.uniform(t0, t1, ids.size), 1)  # on the 0.1 ms grid
        order = np.argsort(times, kind="stable")
        spikes[name] = (ids[order], times[order])
        sizes[name] = n
        total += ids.size
    path.mkdir(parents=True)
    write_spikes(path / "spikes.h5", spikes, sizes)
    RunRecord(
        platform="synthetic",
        n_scale=1.0,
        k_scale=1.0,
        method="none",
        seed=seed,
        resolution_ms=0.1,
        t_presim_ms=T_PRESIM_MS,
        t_sim_ms=t_sim_ms,
        simulated=True,
        populations={k: {"n_neurons": v, "n_recorded": v} for k, v in sizes.items()},
    ).write(path)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--t-sim", type=float, default=10000.0, help="analysed ms (default 10 s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="write the data set here and keep it")
    args = ap.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pd14_analysis_"))
    run_dir = base / "run"
    try:
        t = time.perf_counter()
        n_spikes = synthetic_run(run_dir, args.t_sim, args.seed)
        size_mb = (run_dir / "spikes.h5").stat().st_size / 2**20
        print(
            f"data set: 77,169 neurons, {args.t_sim / 1000:g} s, {n_spikes:,} spikes, "
            f"{size_mb:.0f} MiB ({time.perf_counter() - t:.1f} s to write)"
        )
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "analyse", str(run_dir)],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        print(proc.stdout.strip())
        print(
            f"analyse: {wall:.1f} s wall (target <= 60 s: {wall / 60:.2f} of it), peak RSS "
            f"{peak / 2**30:.2f} GiB (target <= 4 GiB: {peak / 2**32:.2f} of it)"
        )
        return 0 if wall <= 60 and peak <= 4 * 2**30 else 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
