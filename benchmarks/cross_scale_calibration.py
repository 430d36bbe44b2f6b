"""False alarms of ``compare``'s verdicts at scales other than 0.1, per population x
statistic cell, with seed-cluster bootstrap intervals; the priors written per scale.

Make same-model NEST ensembles first (12 seeds each, 2 s after 0.5 s; 0.05: ~10 s a seed,
0.2: ~40 s a seed on 2 cores)::

    python run.py reference --n-scale 0.05 --k-scale 0.05 --seeds 0-11 --t-sim 2000 --out D/ens_n0.05
    python run.py reference --n-scale 0.2 --k-scale 0.2 --seeds 0-11 --t-sim 2000 --out D/ens_n0.2

then ``python benchmarks/cross_scale_calibration.py D/ens_n0.05 D/ens_n0.2 --write-prior
--page docs/measurements/cross-scale-calibration.md``. For each ensemble it draws test
ensembles of 2 or 3 seeds and 3 disjoint reference seeds (``--draws`` per size) and runs the
verdicts of ``compare`` (Holm, alpha 0.05) under three priors: the one shipped for that
scale (measured on the same 12 seeds, as a user's references come from the prior's
ensemble), the other ensemble's (deliberately the wrong scale), and the generic one. It
reports, per population x statistic cell, the rate of p < alpha (unadjusted) with a 95 %
seed-cluster bootstrap interval (seeds resampled with replacement, each draw weighted by the
product of its seeds' multiplicities), the worst cell, and the family-wise rate (tables with
any ``differs``); and, under a partial null (two populations' rates x1.2 in the test runs),
the false discovery rate of each control. ``--write-prior`` adds each ensemble's prior to
``analysis/overdispersion_prior.json`` (replacing one of the same scale and duration); an
ensemble of fewer than 6 seeds (e.g. 3 full-scale seeds) only gives its prior, with its
small weight ((seeds - 1) / 2 degrees of freedom).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np

from pynn_microcircuit.analysis import priors
from pynn_microcircuit.analysis.study import study_statistics
from pynn_microcircuit.analysis.verdicts import CONTROLS, ensemble_prior, verdict_cells
from pynn_microcircuit.rundir import read_run_json

ALPHA = 0.05
TESTED = ("rate", "cv_isi", "correlation", "synchrony")  # one scale: the rescaled cells repeat


def load(ens: Path) -> dict:
    """``{"seeds", "stats", "meta"}`` of an ensemble directory."""
    dirs = sorted(ens.glob("seed_*"), key=lambda d: int(d.name.split("_")[1]))
    dirs = [d for d in dirs if (d / "run.json").is_file()]
    return {
        "seeds": [int(d.name.split("_")[1]) for d in dirs],
        "stats": [study_statistics(d) for d in dirs],
        "meta": read_run_json(dirs[0]),
        "path": str(ens),
    }


def prior_entry(e: dict) -> dict:
    p = ensemble_prior(e["stats"])
    m = e["meta"]
    return {
        "n_scale": m["n_scale"], "k_scale": m["k_scale"], "method": m.get("method"),
        "t_sim_ms": m["t_sim_ms"], "seeds": e["seeds"], "df": p["df"], "phi": p["phi"],
        "source": f"benchmarks/cross_scale_calibration.py --write-prior: NEST seeds "
        f"{e['seeds']}, n = {m['n_scale']:g}, k = {m['k_scale']:g}, {m['t_sim_ms']:g} ms",
    }  # fmt: skip


def as_selection(entry: dict, label: str) -> dict:
    return {"kind": "measured", "label": label, "df": entry["df"], "phi": entry["phi"]}


def draws(n_seeds: int, sizes, per_size: int, rng) -> list[tuple[list[int], list[int]]]:
    out = []
    for size in sizes:
        for _ in range(per_size):
            pick = rng.choice(n_seeds, size + 3, replace=False)
            out.append((sorted(pick[:size].tolist()), sorted(pick[size:].tolist())))
    return out


def boost(stats_: dict, pops, factor: float) -> dict:
    """A copy of one run's statistics with these populations' rates x ``factor``."""
    out = dict(stats_)
    for p in pops:
        out[p] = {**stats_[p], "rates_hz": np.asarray(stats_[p]["rates_hz"]) * factor}
    return out


def run_tables(e: dict, plan, prior: dict, control: str, changed=()) -> list[list[dict]]:
    tables = []
    for tests, refs in plan:
        t = [boost(e["stats"][i], changed, 1.2) if changed else e["stats"][i] for i in tests]
        r = [e["stats"][i] for i in refs]
        tables.append(
            verdict_cells(t, r, 1.0, alpha=ALPHA, prior=prior, test_prior=prior, control=control)
        )
    return tables


def cell_rates(tables, plan, n_seeds: int, boot: int, rng) -> dict:
    """Per (population, statistic): rate of p < alpha and its seed-cluster bootstrap 95 %."""
    keys = sorted({(c["population"], c["statistic"]) for t in tables for c in t
                   if c["statistic"] in TESTED and c.get("p_value") is not None})  # fmt: skip
    hits = np.zeros((len(tables), len(keys)))
    have = np.zeros_like(hits)
    index = {k: j for j, k in enumerate(keys)}
    for i, t in enumerate(tables):
        for c in t:
            j = index.get((c["population"], c["statistic"]))
            if j is not None:
                have[i, j] = 1
                hits[i, j] = c["p_value"] < ALPHA
    members = np.zeros((len(plan), n_seeds))
    for i, (tests, refs) in enumerate(plan):
        members[i, [*tests, *refs]] = 1
    reps = []
    for _ in range(boot):
        mult = np.bincount(rng.integers(0, n_seeds, n_seeds), minlength=n_seeds)
        w = np.prod(np.where(members > 0, mult[None, :], 1), axis=1)
        num, den = (w[:, None] * hits).sum(0), (w[:, None] * have).sum(0)
        reps.append(np.where(den > 0, num / np.maximum(den, 1), np.nan))
    reps = np.array(reps)
    rate = hits.sum(0) / np.maximum(have.sum(0), 1)
    lo, hi = np.nanpercentile(reps, [2.5, 97.5], axis=0)
    return {f"{p}/{s}": {"rate": float(rate[j]), "lo": float(lo[j]), "hi": float(hi[j])}
            for (p, s), j in index.items()}  # fmt: skip


def family_rate(tables) -> float:
    return float(np.mean([any(c["verdict"] == "differs" for c in t) for t in tables]))


def fdr(tables, changed) -> float:
    """Mean share of false 'differs' (rate cells of unchanged populations and every other
    statistic) among a table's 'differs' (0 where none)."""
    shares = []
    for t in tables:
        d = [c for c in t if c["verdict"] == "differs"]
        false = [c for c in d if not (c["statistic"] == "rate" and c["population"] in changed)]
        shares.append(len(false) / len(d) if d else 0.0)
    return float(np.mean(shares))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ensembles", nargs="+", type=Path)
    ap.add_argument("--draws", type=int, default=60, help="draws per test-ensemble size")
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--write-prior", action="store_true")
    ap.add_argument("--page", type=Path, default=None, help="write a dated Markdown page")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    ens = [load(p) for p in args.ensembles]
    entries = [prior_entry(e) for e in ens]
    if args.write_prior:
        for entry in entries:
            priors.add_entry(entry)
            print(f"prior written: n = k = {entry['n_scale']:g}, {len(entry['seeds'])} seeds")
    results = {}
    lines = []
    for i, e in enumerate(ens):
        n = len(e["seeds"])
        if n < 6:  # too few seeds for disjoint test and reference sets: its prior only
            print(f"{e['path']}: {n} seeds, prior only (no calibration draws)")
            continue
        plan = draws(n, (2, 3), args.draws, rng)
        m = e["meta"]
        name = f"n=k={m['n_scale']:g} {m['t_sim_ms'] / 1000:g} s"
        others = [x for x in entries if not priors._same(x["n_scale"], m["n_scale"])]
        wrong = others[0] if others else entries[i]
        choices = {
            "as shipped": as_selection(entries[i], "measured at " + name),
            f"wrong scale (n=k={wrong['n_scale']:g})": as_selection(wrong, "wrong scale"),
            "generic": priors.generic(),
        }
        res = {}
        for label, prior in choices.items():
            tables = run_tables(e, plan, prior, "fwer")
            cells = cell_rates(tables, plan, n, args.boot, rng)
            worst = max(cells.items(), key=lambda kv: kv[1]["rate"])
            above = [k for k, v in cells.items() if v["lo"] > ALPHA]
            res[label] = {"cells": cells, "worst": worst, "cells_lower_bound_above_alpha": above,
                          "family_wise_holm": family_rate(tables)}  # fmt: skip
            mean = np.mean([v["rate"] for v in cells.values()])
            lines.append(
                f"| {name} | {label} | {100 * mean:.1f} % | {worst[0]} {100 * worst[1]['rate']:.1f} % "
                f"({100 * worst[1]['lo']:.1f}-{100 * worst[1]['hi']:.1f}) | "
                f"{len(above)} | {100 * res[label]['family_wise_holm']:.1f} % |"
            )
        changed = list(e["stats"][0])[:2]
        partial = {}
        for control in CONTROLS:
            t = run_tables(e, plan, choices["as shipped"], control, changed)
            partial[control] = {"fdr": fdr(t, changed), "family_wise": family_rate(
                [[c for c in tab if not (c["statistic"] == "rate" and c["population"] in changed)]
                 for tab in t])}  # fmt: skip
        res["partial_null"] = {"changed": changed, **partial}
        results[name] = res
    header = ("| ensemble | prior | mean per-cell rate (p < 0.05) | worst cell (95 % bootstrap) "
              "| cells with lower bound > 5 % | tables with a false `differs` (Holm) |\n"
              "|---|---|---|---|---|---|")  # fmt: skip
    print(header)
    print("\n".join(lines))
    for name, res in results.items():
        pn = res["partial_null"]
        print(f"{name}: partial null (rates x1.2 in {', '.join(pn['changed'])}): "
              + "; ".join(f"{CONTROLS[c]} FDR {100 * pn[c]['fdr']:.1f} %, any false differs "
                          f"{100 * pn[c]['family_wise']:.1f} %" for c in CONTROLS))  # fmt: skip
    if args.page:
        import nest  # noqa: F401 - versions of what made the runs

        from pynn_microcircuit.rundir import versions

        args.page.parent.mkdir(parents=True, exist_ok=True)
        body = [
            f"# Cross-scale calibration of `compare` ({datetime.date.today()})",
            "",
            f"Machine: {platform.machine()}, {platform.processor() or platform.system()}; "
            f"versions: {json.dumps(versions())}.",
            f"Command: `python benchmarks/cross_scale_calibration.py "
            f"{' '.join(str(p) for p in args.ensembles)} --draws {args.draws}`; "
            f"{2 * args.draws} draws per ensemble (test ensembles of 2 and 3 seeds against 3 "
            "disjoint reference seeds), alpha 0.05, Holm.",
            "",
            header,
            *lines,
            "",
            *[
                f"- {name}: partial null (rates x1.2 in {', '.join(r['partial_null']['changed'])}): "
                + "; ".join(
                    f"{CONTROLS[c]}: false discovery rate {100 * r['partial_null'][c]['fdr']:.1f} %, "
                    f"tables with a false `differs` {100 * r['partial_null'][c]['family_wise']:.1f} %"
                    for c in CONTROLS
                )
                for name, r in results.items()
            ],  # fmt: skip
            "",
            "Per-cell rates and intervals: the JSON beside this page.",
        ]
        args.page.write_text("\n".join(body) + "\n")
        args.page.with_suffix(".json").write_text(
            json.dumps(results, indent=1, default=float) + "\n"
        )
        print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
