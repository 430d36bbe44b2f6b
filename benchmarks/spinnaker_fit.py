"""Check the SpiNNaker capacity model against sPyNNaker's own mapper (virtual machine).

``--grid``: map a grid of configurations (scales, 64/256 neurons per core, delay extensions
on/off) with ``run.py --platform spinnaker`` (dry run, fresh process each) and print
predicted vs mapped cores and chips, with wall time and peak memory of each dry run.

``--bisect cores=800``: take the plan for that budget, then find by bisection over the plan's
scale -- mapping each candidate with the real mapper -- the largest scale of the same method
and knobs whose mapping uses at most the budget, and report the plan's scale relative to it.

    python benchmarks/spinnaker_fit.py --grid
    python benchmarks/spinnaker_fit.py --bisect cores=800
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GRID = [
    (s, npc, ext)
    for s in (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
    for npc in (64, 256)
    for ext in (True, False)
]


def dry_run(tmp: Path, n: float, k: float, method: str, npc: int, ext: bool, tsf: int = 1):
    """Map once in a fresh process; returns (run.json, wall s, peak RSS bytes of the child)."""
    out = tmp / f"m_{n:g}_{k:g}_{method}_{npc}_{int(ext)}_{tsf}_{time.time_ns()}"
    cmd = [sys.executable, str(ROOT / "run.py"), "--platform", "spinnaker", "-q"]
    cmd += ["--n-scale", f"{n:g}", "--k-scale", f"{k:g}", "--method", method]
    cmd += ["--neurons-per-core", str(npc), "--time-scale-factor", str(tsf)]
    cmd += ["--out", str(out), "--job", out.name, "--no-analysis"]
    if not ext:
        cmd.append("--no-delay-extensions")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    wall = time.perf_counter() - t0
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024
    if proc.returncode not in (0, 3):
        return None, wall, peak, proc.stderr.strip().splitlines()[-1:]
    return json.loads((out / "run.json").read_text()), wall, peak, []


def grid(tmp: Path) -> int:
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.spinnaker.capacity import Knobs, predict_mapping
    from pynn_microcircuit.scaling import make_spec

    print(
        f"{'scale':>6} {'npc':>4} {'ext':>4} {'pred cores':>10} {'mapped':>7} "
        f"{'pred chips':>10} {'mapped':>7} {'chips +%':>8} {'wall s':>7} {'RSS GiB':>8}"
    )
    bad = 0
    for s, npc, ext in GRID:
        pred = predict_mapping(make_spec(Params(), s, s), Knobs(npc, delay_extensions=ext))
        if not pred.feasible:
            print(f"{s:>6g} {npc:>4} {ext!s:>5}  not offered: {pred.problems[0]}")
            continue
        rec, wall, peak, err = dry_run(tmp, s, s, "sqrt-k", npc, ext)
        if rec is None:
            print(f"{s:>6g} {npc:>4} {ext!s:>5}  mapper failed: {err}")
            bad += 1
            continue
        m = rec["mapping"]
        extra = 100 * (m["chips"] / pred.chips - 1)
        ok = m["cores"] == pred.cores and abs(extra) <= 6
        bad += not ok
        print(
            f"{s:>6g} {npc:>4} {ext!s:>5} {pred.cores:>10} {m['cores']:>7} {pred.chips:>10} "
            f"{m['chips']:>7} {extra:>+7.1f}% {wall:>7.1f} {peak / 2**30:>8.2f}"
            + ("" if ok else "   <-- mismatch")
        )
    print("all cores exact and chips within 6 %" if not bad else f"{bad} mismatches")
    return 1 if bad else 0


def bisect(tmp: Path, budget_text: str) -> int:
    from pynn_microcircuit.budget import parse_budget, plan
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.spinnaker.capacity import budget_capacity

    budget = parse_budget(budget_text, "spinnaker")
    p = plan("spinnaker", budget, budget_capacity, Params())
    knobs = p.predicted["settings"]
    print(f"plan: n={p.n_scale:g} k={p.k_scale:g} {p.method}, knobs {knobs}")

    def scales(s):
        return (s if p.n_scale < 1 else 1.0, s if p.k_scale < 1 else 1.0)

    def mapped_fits(s):
        n, k = scales(s)
        rec, _, _, err = dry_run(
            tmp,
            n,
            k,
            p.method,
            knobs["neurons_per_core"],
            knobs["delay_extensions"],
            knobs["time_scale_factor"],
        )
        if rec is None:
            print(f"  s={s:.4f}: mapper failed {err}")
            return False
        m = rec["mapping"]
        ok = all(m[key] <= v for key, v in budget.items() if key in m)
        print(f"  s={s:.4f}: {m['cores']} cores, {m['chips']} chips -> {'fits' if ok else 'over'}")
        return ok

    s_plan = p.n_scale if p.n_scale < 1 else p.k_scale
    lo, hi = s_plan, min(1.0, 2 * s_plan)
    if not mapped_fits(lo):
        print("the plan itself does not fit the real mapping")
        return 1
    if mapped_fits(hi):
        lo = hi
    else:
        while hi - lo > 0.005 * lo:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mapped_fits(mid) else (lo, mid)
    print(
        f"largest scale that maps within {budget_text}: {lo:.4f}; plan {s_plan:.4f} "
        f"= {100 * s_plan / lo:.1f} % of it"
    )
    return 0 if s_plan >= 0.9 * lo else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--bisect", default=None, metavar="BUDGET")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="spinnaker_fit_") as tmp:
        rc = 0
        if args.grid:
            rc |= grid(Path(tmp))
        if args.bisect:
            rc |= bisect(Path(tmp), args.bisect)
        return rc


if __name__ == "__main__":
    sys.exit(main())
