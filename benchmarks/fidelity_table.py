"""Predicted vs measured fidelity of a finished sweep, as a Markdown table.

``python benchmarks/fidelity_table.py SWEEP_DIR`` reads the sweep's ``results.json``
(``run.py sweep``) and, for every downscaled run, prints the planner's predictions
(:func:`pynn_microcircuit.budget.fidelity`: the largest mean-field rate deviation from full
scale and the correlation factor of the 1/N law, none where W = K J changes) beside the
measurements against the full-scale reference (largest |rate / reference - 1| over the
populations with reference rate > 0.5 Hz, and the median over populations of mean
correlation / reference mean correlation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from pynn_microcircuit.analysis.study import scalar_summary, study_statistics
from pynn_microcircuit.budget import fidelity
from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import make_spec
from pynn_microcircuit.theory import self_consistent_rates


def main() -> int:
    sweep = Path(sys.argv[1])
    res = json.loads((sweep / "results.json").read_text())
    p = Params()
    mf_full = self_consistent_rates(make_spec(p, 1.0, 1.0))
    ref = {}
    ref_dir = Path(res["reference"])
    seeds = sorted(d for d in ref_dir.glob("seed_*") if (d / "run.json").is_file())
    sums = [scalar_summary(study_statistics(d), 1.0, 1.0, "none") for d in seeds]
    for pop in sums[0]:
        ref[pop] = {
            q: float(np.mean([s[pop][q] for s in sums if s[pop][q] is not None]))
            for q in ("mean_rate_hz", "mean_correlation")
        }
    rows = []
    for key, r in sorted(res["runs"].items()):
        meta = json.loads((Path(r["run"]) / "run.json").read_text())
        n, k, method = meta["n_scale"], meta["k_scale"], meta["method"]
        if n == k == 1:
            continue
        spec = make_spec(p, n, k, method=method, allow_partial=bool(meta["spec"].get(
            "residual_variance_rel")))  # fmt: skip
        fid = fidelity(spec, mf_full)
        s = r["summary"]
        dev = max(
            abs(s[pop]["mean_rate_hz"] / ref[pop]["mean_rate_hz"] - 1)
            for pop in s
            if ref[pop]["mean_rate_hz"] > 0.5 and s[pop]["mean_rate_hz"] is not None
        )
        ratios = [
            s[pop]["mean_correlation"] / ref[pop]["mean_correlation"]
            for pop in s
            if s[pop]["mean_correlation"] and ref[pop]["mean_correlation"]
        ]
        cf = fid["correlation_factor"]
        rows.append(
            f"| {key.split('/')[0]} | {100 * fid['rates_max_rel_dev']:.0f} % | "
            f"{100 * dev:.0f} % | {'none' if cf is None else f'x{cf:.3g}'} | "
            f"x{np.median(ratios):.2g} |"
        )
    print("| run | rate deviation, predicted | measured | correlations, predicted | measured |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
