"""Power of ``compare`` (Holm, the default) for a known change: half the neurons at the
same in-degrees, whose correlations grow about x2 by the 1/N law, against several disjoint
reference triplets.

Make the runs (NEST, 3 s after 0.5 s; ~25 s each on 2 cores)::

    python run.py reference --n-scale 0.1 --k-scale 0.1 --seeds 40-48 --t-sim 3000 --out D/ref01_t3000
    for s in 201 202 203 204 205 206 207 208; do
      python run.py --n-scale 0.05 --k-scale 0.1 --method sqrt-k --seed $s --t-sim 3000 \\
          --no-analysis --out D/half_s$s
    done

then ``python benchmarks/half_neuron_power.py D``. Each half run is compared alone with each
disjoint triplet of the reference seeds (the priors as ``compare`` picks them: none is
measured at 3 s, so generic for the references and the conservative bound for the single
test run). It prints, per table, how many of the 8 populations have their raw correlation
called ``differs``, the share of tables with at least 6, and per population the simulated
time ``compare`` says a doubling needs (median over tables).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pynn_microcircuit.analysis.compare import correlation_rescale
from pynn_microcircuit.analysis.io import load_run
from pynn_microcircuit.analysis.priors import for_comparison
from pynn_microcircuit.analysis.report import run_statistics
from pynn_microcircuit.analysis.study import study_statistics
from pynn_microcircuit.analysis.verdicts import verdict_cells
from pynn_microcircuit.rundir import read_run_json


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    args = ap.parse_args()
    refs = sorted((args.data / "ref01_t3000").glob("seed_*"), key=lambda d: int(d.name[5:]))
    ref_stats = [study_statistics(d) for d in refs]
    ref_meta = read_run_json(refs[0])
    triplets = [list(range(i, i + 3)) for i in range(0, len(refs) - 2, 3)]
    halves = sorted(args.data.glob("half_s*"))
    flagged, needed = [], {}
    for h in halves:
        run = load_run(h)
        stats = run_statistics(run)
        scale = correlation_rescale(run.meta, ref_meta)
        test_prior, prior, _ = for_comparison(list(stats), [run.meta], ref_meta)
        for trip in triplets:
            cells = verdict_cells(
                stats, [ref_stats[i] for i in trip], scale, prior=prior, test_prior=test_prior,
                duration_s=run.duration_s, detect={"correlation": 1.0},
            )  # fmt: skip
            corr = [c for c in cells if c["statistic"] == "correlation"]
            flagged.append(sum(c["verdict"] == "differs" for c in corr))
            for c in corr:
                needed.setdefault(c["population"], []).append(c.get("t_needed_s"))
    # the same change seen by test ensembles of 3 half runs (each side its own variance)
    ens_flagged = []
    half_stats = [run_statistics(load_run(h)) for h in halves]
    metas = [read_run_json(h) for h in halves]
    for g in range(0, len(halves) - 2, 3):
        tests = half_stats[g : g + 3]
        test_prior, prior, _ = for_comparison(list(tests[0]), metas[g : g + 3], ref_meta)
        scale = correlation_rescale(metas[g], ref_meta)
        for trip in triplets:
            cells = verdict_cells(tests, [ref_stats[i] for i in trip], scale, prior=prior,
                                  test_prior=test_prior)  # fmt: skip
            ens_flagged.append(sum(c["verdict"] == "differs" for c in cells
                                   if c["statistic"] == "correlation"))  # fmt: skip
    n = len(flagged)
    at_least_6 = sum(f >= 6 for f in flagged)
    print(f"{len(halves)} half runs x {len(triplets)} disjoint triplets = {n} tables (Holm)")
    print(f"raw correlation flagged per table: {sorted(flagged)}")
    print(f"tables with >= 6 of 8 populations flagged: {at_least_6} ({100 * at_least_6 / n:.0f} %)")
    e6 = sum(f >= 6 for f in ens_flagged)
    print(f"test ensembles of 3 half runs: flagged per table {sorted(ens_flagged)}; >= 6 of 8 "
          f"in {e6} of {len(ens_flagged)}")  # fmt: skip
    for pop, ts in needed.items():
        finite = [t for t in ts if t is not None]
        med = f"{np.median(finite):.3g} s" if finite else "not by a longer run"
        print(f"  {pop}: a doubling of the correlation needs {med} (median over tables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
