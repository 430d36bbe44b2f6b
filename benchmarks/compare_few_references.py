"""False alarms and detectable effects of ``compare``'s verdicts with 1, 2 or 3 reference runs.

``compare`` accepts a single reference run (a fetched SpiNNaker job, one full-scale NEST run):
its seed-to-seed variance then comes from the overdispersion prior alone
(:mod:`pynn_microcircuit.analysis.verdicts`, Student's t with the prior's degrees of
freedom). The error rates in the README were measured with triplets; this measures them for
m = 1, 2, 3 on the same data (the two 12-seed n = k = 0.1, 2 s ensembles ``D/ref01_t2000``
and ``D/ref01_t2000b`` of ``benchmarks/compare_calibration.py``, whose docstring says how to
make them):

every seed of each ensemble against ``--draws`` random m-subsets of its other seeds, under
the prior measured on the other ensemble (cross-fitted, never on its own data), with the
default control (Benjamini-Hochberg) and with Holm. Printed per m: the per-cell rate of
p < alpha (unadjusted), the family-wise rate (any ``differs`` in the table) and the median
smallest detectable change per statistic.

    python benchmarks/compare_few_references.py D [--draws 10] [--alpha 0.05]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from compare_calibration import ensemble, null_tables, rate, tally_null

from pynn_microcircuit.analysis.verdicts import (
    CONTROLS,
    STATISTICS,
    ensemble_prior,
)


def tables(folds, m: int, draws: int, alpha: float, control: str, rng):
    """Verdict tables of each seed against ``draws`` random ``m``-subsets of the other seeds
    of its ensemble, under that fold's (the other ensemble's) prior."""
    for fold, prior in folds:
        seeds = sorted(fold)
        for s in seeds:
            others = [fold[o] for o in seeds if o != s]
            yield from null_tables(fold[s], others, prior, rng, draws, alpha, control, size=m)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    ens_a = ensemble(args.data / "ref01_t2000")
    ens_b = ensemble(args.data / "ref01_t2000b")
    folds = [
        (ens_b, ensemble_prior(list(ens_a.values()))),
        (ens_a, ensemble_prior(list(ens_b.values()))),
    ]
    out: dict = {"alpha": args.alpha, "draws": args.draws, "seeds": [sorted(ens_a), sorted(ens_b)]}
    for control in CONTROLS:
        for m in (1, 2, 3):
            rng = np.random.default_rng(m)  # the same subsets under both controls
            cells_seen = list(tables(folds, m, args.draws, args.alpha, control, rng))
            k, n, fw, n_tables = tally_null(cells_seen, args.alpha)
            # relative changes for rate, correlation, synchrony (a correlation near zero is
            # judged in absolute units and left out here), absolute for the ISI CV
            mde = {
                s: float(np.median([c["min_detectable_effect"] for cells in cells_seen
                                    for c in cells if c["statistic"] == s
                                    and c.get("min_detectable_effect") is not None
                                    and (s == "cv_isi" or c.get("mde_units") == "relative")]))
                for s in STATISTICS if s != "correlation_rescaled"
            }  # fmt: skip
            out[f"{control}_m{m}"] = {
                "per_cell": k / n, "cells": n, "family_wise": fw / n_tables,
                "tables": n_tables, "median_mde": mde,
            }  # fmt: skip
            print(
                f"{control} ({CONTROLS[control]}), {m} reference(s): p < alpha in "
                f"{rate(k, n)} of {n} cells; tables with a 'differs' {rate(fw, n_tables)} of "
                f"{n_tables}; median detectable: "
                + ", ".join(
                    f"{s} {100 * v:.0f} %" if s != "cv_isi" else f"{s} {v:.3f}"
                    for s, v in mde.items()
                )
            )
    (args.data / "few_references.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
