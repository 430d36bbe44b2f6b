"""The downscaling atlas: measured deviation from full-scale NEST of every scaling method at
several scales, reduced to the small data file the planner ships
(``pynn_microcircuit/fidelity_atlas.json``), with a leave-one-cell-out check of the
planner's intervals and a figure per statistic.

Make the runs (NEST, 3 seeds per cell, 2 s after 0.5 s; about 90 minutes on 2 cores)::

    python run.py reference --n-scale 1 --k-scale 1 --seeds 0-2 --t-sim 2000 --out D/ref_n1
    python run.py sweep --methods n,sqrt-k,linear-k-partial,n@0.5 --scales 0.5,0.2,0.1,0.05 \\
        --seeds 0,1,2 --t-sim 2000 --reference D/ref_n1 --out D/sweep

then ``python benchmarks/fidelity_atlas.py D/sweep D/ref_n1 --write --page
docs/measurements/fidelity-atlas.md``. A cell's deviation is ``mean(test) / mean(full) - 1``
(rate, population-averaged correlation, synchrony at a common subsample size) or
``mean(test) - mean(full)`` (ISI CV), over seeds; its standard error by the delta method from
the seed-to-seed variance of both sides (Welch: no common variance assumed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np

from pynn_microcircuit import atlas
from pynn_microcircuit.analysis.study import study_statistics
from pynn_microcircuit.analysis.verdicts import _common_sync_size, scalars
from pynn_microcircuit.rundir import read_run_json

STATS = atlas.STATISTICS


def runs_of(folder: Path) -> list[Path]:
    return sorted(d for d in folder.glob("*") if (d / "run.json").is_file())


def group(sweep: Path) -> dict:
    """Finished sweep runs by cell ``(method, n, k, partial)``."""
    cells: dict = {}
    for d in runs_of(sweep):
        m = read_run_json(d)
        # linear-k below its k_min runs with --allow-partial: its spec records the residual
        residual = (m.get("spec") or {}).get("residual_variance_rel")
        partial = m["method"] == "linear-k" and residual is not None and any(residual)
        key = (m["method"], float(m["n_scale"]), float(m["k_scale"]), bool(partial))
        cells.setdefault(key, []).append(d)
    return cells


def deviation(stat: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(deviation, standard error) of the test seeds ``x`` from the reference seeds ``y``."""
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return float("nan"), float("nan")
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if stat in atlas.RELATIVE:
        if my <= 0 or mx <= 0:
            return float("nan"), float("nan")
        return float(mx / my - 1), float(mx / my * math.sqrt(vx / mx**2 + vy / my**2))
    return float(mx - my), float(math.sqrt(vx + vy))


def reduce(cells: dict, ref_stats: list[dict]) -> list[dict]:
    out = []
    pops = list(ref_stats[0])
    for (method, n, k, partial), dirs in sorted(cells.items()):
        test_stats = [study_statistics(d) for d in dirs]
        entry = {"method": method, "n_scale": n, "k_scale": k, "allow_partial": partial,
                 "seeds": len(dirs), "statistics": {}}  # fmt: skip
        for stat in STATS:
            rows = {}
            for pop in pops:
                runs = [s[pop] for s in test_stats] + [s[pop] for s in ref_stats]
                size = _common_sync_size(runs[0], runs[1:]) if stat == "synchrony" else None
                x = np.array([scalars(s[pop], stat, 1.0, size)[0] for s in test_stats])
                y = np.array([scalars(s[pop], stat, 1.0, size)[0] for s in ref_stats])
                dev, se = deviation(stat, x, y)
                if np.isfinite(dev):
                    rows[pop] = {"deviation": dev, "se": se, "reference": float(np.nanmean(y)),
                                 "test": float(np.nanmean(x))}  # fmt: skip
            entry["statistics"][stat] = rows
        out.append(entry)
    return out


def leave_one_out(cells: list[dict]) -> dict:
    """Each cell with measured neighbours on both sides of its line, predicted from them."""
    table = {stat: [] for stat in STATS}
    data = {"cells": cells}
    for c in cells:
        pred = atlas.fidelity_at(c["method"], c["n_scale"], c["k_scale"], data,
                                 exclude=(c["method"], c["n_scale"], c["k_scale"]))  # fmt: skip
        for stat in STATS:
            p, s = pred[stat], atlas.summary(c, stat)
            if p["source"] != "interpolated" or s is None:
                continue
            lo, hi = p["interval"]
            v = s[1]["deviation"]
            table[stat].append({"cell": f"{c['method']} n={c['n_scale']:g} k={c['k_scale']:g}",
                                "measured": v, "predicted": p["value"], "interval": [lo, hi],
                                "inside": bool(lo <= v <= hi), "width": hi - lo})  # fmt: skip
    return table


def figure(cells: list[dict], stat: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    lines: dict = {}
    for c in cells:
        s = atlas.summary(c, stat)
        if s is None:
            continue
        name = c["method"] + (" partial" if c.get("allow_partial") else "")
        if not (atlas._same(c["n_scale"], c["k_scale"]) or c["method"] == "n"):
            name += f" k={c['k_scale']:g}"
        lines.setdefault(name, []).append((c["n_scale"], s[1]["deviation"], s[1]["se"]))
    ratio = stat in atlas.RELATIVE  # shown as test / full scale on a log axis
    for name, pts in sorted(lines.items()):
        pts.sort()
        n, v, se = (np.array(t) for t in zip(*pts, strict=True))
        y = 1 + v if ratio else v
        ax.errorbar(n, y, yerr=2 * se, marker="o", capsize=3, label=name)
    ax.axhline(1 if ratio else 0, color="grey", lw=0.8)
    ax.set_xscale("log")
    if ratio:
        ax.set_yscale("log")
    ax.set_xlabel("n (N'/N)")
    ax.set_ylabel(f"{stat}: test / full scale" if ratio else f"{stat}: test - full scale")
    ax.set_title(f"{stat}, population of largest deviation (3 seeds, ±2 SE)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sweep", type=Path)
    ap.add_argument("reference", type=Path)
    ap.add_argument("--write", action="store_true", help=f"write {atlas.ATLAS_FILE.name}")
    ap.add_argument("--page", type=Path, default=None)
    args = ap.parse_args()
    refs = sorted(args.reference.glob("seed_*"))
    ref_stats = [study_statistics(d) for d in refs]
    ref_meta = read_run_json(refs[0])
    cells = reduce(group(args.sweep), ref_stats)
    sweep_meta = read_run_json(runs_of(args.sweep)[0])
    from pynn_microcircuit.rundir import versions

    result = {
        "about": "benchmarks/fidelity_atlas.py: deviation of each population's statistic from "
        "full-scale NEST, per scaling method and scale (pynn_microcircuit/atlas.py)",
        "made": str(datetime.date.today()),
        "reference": {"path": str(args.reference), "seeds": len(refs),
                      "t_sim_ms": ref_meta["t_sim_ms"], "t_presim_ms": ref_meta["t_presim_ms"]},
        "t_sim_ms": sweep_meta["t_sim_ms"],
        "versions": versions(),
        "cells": cells,
    }  # fmt: skip
    if args.write:
        atlas.ATLAS_FILE.write_text(json.dumps(result, indent=1, default=float) + "\n")
        print(f"wrote {atlas.ATLAS_FILE} ({len(cells)} cells)")
    loo = leave_one_out(cells)
    lines = [
        "| statistic | held-out cells | inside the interval | median width |",
        "|---|---|---|---|",
    ]
    for stat, rows in loo.items():
        if rows:
            inside = sum(r["inside"] for r in rows)
            scale = 100 if stat in atlas.RELATIVE else 1
            width = float(np.median([r["width"] for r in rows])) * scale
            unit = " %-points" if stat in atlas.RELATIVE else ""
            lines.append(f"| {stat} | {len(rows)} | {inside} ({100 * inside / len(rows):.0f} %) | "
                         f"{width:.3g}{unit} |")  # fmt: skip
    cell_lines = ["| method | n | k | seeds | rate (pop) | cv_isi | correlation | synchrony |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in cells:
        row = [c["method"] + (" partial" if c["allow_partial"] else ""), f"{c['n_scale']:g}",
               f"{c['k_scale']:g}", str(c["seeds"])]  # fmt: skip
        for stat in STATS:
            s = atlas.summary(c, stat)
            scale = 100 if stat in atlas.RELATIVE else 1
            row.append("-" if s is None else f"{scale * s[1]['deviation']:+.3g} ± "
                       f"{2 * scale * s[1]['se']:.2g} ({s[0]})")  # fmt: skip
        cell_lines.append("| " + " | ".join(row) + " |")
    print("\n".join(cell_lines))
    print("\nleave-one-cell-out:\n" + "\n".join(lines))
    if args.page:
        args.page.parent.mkdir(parents=True, exist_ok=True)
        figs = []
        for stat in STATS:
            f = args.page.with_name(f"{args.page.stem}-{stat}.png")
            figure(cells, stat, f)
            figs.append(f"![{stat}]({f.name})")
        args.page.write_text("\n".join([
            f"# Fidelity atlas ({datetime.date.today()})", "",
            f"Machine: {platform.machine()}; versions: {json.dumps(versions())}.",
            f"NEST runs, {sweep_meta['t_sim_ms']:g} ms after {sweep_meta['t_presim_ms']:g} ms "
            f"warm-up, against a {len(refs)}-seed full-scale reference of the same duration. "
            "Each cell: the population with the largest deviation (rates: populations firing "
            ">= 0.5 Hz at full scale), ± 2 standard errors (seed-to-seed, both sides). "
            f"Command: `python benchmarks/fidelity_atlas.py {args.sweep} {args.reference}`.",
            "", *cell_lines, "",
            "Leave-one-cell-out: each cell with measured neighbours on both sides of its line, "
            "predicted by the planner's interpolation from them alone:", "", *lines, "",
            *figs, "",
        ]))  # fmt: skip
        print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
