"""Measure the false-alarm rate and the power of ``compare``'s verdicts on NEST runs.

Make the runs first (n = k = 0.1; about 15 s each on 2 cores)::

    python run.py reference --n-scale 0.1 --k-scale 0.1 --seeds 1-12 --t-sim 2000 --out D/ref01_t2000
    printf "bg_rate_hz: 8.4\\n" > bg105.yaml; printf "bg_rate_hz: 8.8\\n" > bg110.yaml
    for s in 101 102 103; do   # external rate +5 % and +10 %
      python run.py --n-scale 0.1 --config bg105.yaml --seed $s --t-sim 2000 --no-analysis --out D/bg105_s$s
      python run.py --n-scale 0.1 --config bg110.yaml --seed $s --t-sim 2000 --no-analysis --out D/bg110_s$s
    done
    python run.py reference --n-scale 0.1 --k-scale 0.1 --seeds 1-3 --t-sim 3000 --out D/ref01_t3000
    for s in 201 202 203 204 205 206 207 208; do   # half the neurons, in-degrees of n = k = 0.1
      python run.py --n-scale 0.05 --k-scale 0.1 --method sqrt-k --seed $s --t-sim 3000 --no-analysis --out D/half_s$s
    done

and, for the same comparisons at 10 s (the half-neuron criterion's duration, see below)::

    python run.py reference --n-scale 0.1 --k-scale 0.1 --seeds 31-36 --t-sim 10000 --out D/ref01_t10000
    for s in 201 202 203 204 205 206 207 208; do
      python run.py --n-scale 0.05 --k-scale 0.1 --method sqrt-k --seed $s --t-sim 10000 --no-analysis --out D/half10_s$s
    done

and a second ensemble for held-out false alarms of the shipped prior (which is measured on
the first; ``--write-prior`` rewrites it)::

    python run.py reference --n-scale 0.1 --k-scale 0.1 --seeds 13-24 --t-sim 2000 --out D/ref01_t2000b

then ``python benchmarks/compare_calibration.py D``. It prints (and writes
``D/calibration.json``), once per multiple-comparison control of the verdict table (``fdr``:
Benjamini-Hochberg, the default; ``fwer``: Holm; the same reference triplets for both):

* false alarms, cross-fitted: every seed of each 12-seed ensemble against ``--triplets``
  random triplets of its other seeds, under the prior measured on the other ensemble: the
  per-cell rate of p < alpha (unadjusted), and the family-wise rate (any ``differs`` in the
  table), with binomial standard errors (which understate: triplets share seeds);
* false alarms as shipped: each of the 24 seeds against triplets of the other 23, under the
  prior of those 23 (the references a user takes from the ensemble are part of the prior's);
* power (references from the second ensemble, prior from the first): the +5 %/+10 %
  external-rate runs against triplets of the ensemble, a synthetic rate
  change of one population (its rates x 1.1 and x 1.2 in a same-model seed), and the
  half-neuron runs against the 3 s ensemble (correlations about x2 by the 1/N law; with the
  prior of both ensembles, as shipped);
* at 10 s (``ref01_t10000*`` and ``half10_s*``, with the shipped prior measured at 2 s): the
  false alarms of each 10 s seed against every triplet of the other 10 s seeds, and the
  half-neuron runs against every triplet of them (``compare`` refuses runs of unequal
  duration: the ISI CV of a longer run is larger, as more long intervals fit in it);
* the median minimum detectable effect of each statistic;
* once (it does not depend on the control), the check of ``t_needed_s``'s 1/T variance
  model: the standard deviation of each cell times sqrt(T) at 2 s and at 3 s (each seed
  against two others), whose ratio is 1 if the model holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pynn_microcircuit.analysis.compare import correlation_rescale
from pynn_microcircuit.analysis.io import load_run
from pynn_microcircuit.analysis.priors import PRIOR_FILE, add_entry
from pynn_microcircuit.analysis.report import run_statistics
from pynn_microcircuit.analysis.study import study_statistics
from pynn_microcircuit.analysis.verdicts import (
    CONTROLS,
    STATISTICS,
    ensemble_prior,
    verdict_cells,
)
from pynn_microcircuit.rundir import read_run_json


def ensemble(ref: Path) -> dict:
    return {int(d.name.split("_")[1]): study_statistics(d) for d in sorted(ref.glob("seed_*"))}


PRIOR = None  # the held-out prior (main() sets it from the prior seeds)


def verdicts(test, refs, scale=1.0, alpha=0.05, control="fdr"):
    return verdict_cells(
        test, refs, correlation_scale=scale, alpha=alpha, prior=PRIOR, control=control
    )


def null_tables(
    test: dict, pool: list, prior: dict, rng, triplets: int, alpha: float, control, size: int = 3
):
    """The verdict cells of ``test`` against each of ``triplets`` random sets of ``size``
    (default 3) same-model runs drawn from ``pool`` (no true difference: every ``differs`` is
    false)."""
    for _ in range(triplets):
        trip = rng.choice(len(pool), size, replace=False)
        yield verdict_cells(
            test, [pool[i] for i in trip], 1.0, alpha=alpha, prior=prior, control=control
        )


def tally_null(tables, alpha: float) -> tuple[int, int, int, int]:
    """Over verdict tables with no true difference: (cells with p < alpha, cells with a p-value,
    tables with any ``differs``, tables). The rescaled correlation cell is left out of the
    cells: these tables are of one scale, where it repeats the correlation cell's test."""
    k = n = fw = n_tables = 0
    for cells in tables:
        n_tables += 1
        fw += any(c["verdict"] == "differs" for c in cells)
        for c in cells:
            if c.get("p_value") is not None and c["statistic"] != "correlation_rescaled":
                k += c["p_value"] < alpha
                n += 1
    return k, n, fw, n_tables


def ten_seconds(data: Path, alpha: float, control: str) -> dict:
    """False alarms and half-neuron power with 10 s runs on both sides (module docstring)."""
    import itertools

    from pynn_microcircuit.analysis.priors import select

    dirs = sorted(d for e in sorted(data.glob("ref01_t10000*")) for d in e.glob("seed_*"))
    halves = sorted(data.glob("half10_s*"))
    if len(dirs) < 4:
        return {}
    runs = [study_statistics(d) for d in dirs]
    prior = select(list(runs[0]), 0.1, 0.1, 2000.0)  # the shipped prior, measured at 2 s
    k, n, fw, n_tables = tally_null(
        (
            verdict_cells(test, list(trip), 1.0, alpha=alpha, prior=prior, control=control)
            for i, test in enumerate(runs)
            for trip in itertools.combinations([r for j, r in enumerate(runs) if j != i], 3)
        ),
        alpha,
    )
    out = {"per_cell": k / n, "family_wise": fw / n_tables, "half": {}}
    print(
        f"10 s, false alarms (each of {len(runs)} seeds against every triplet of the others): "
        f"per cell {rate(k, n)}, family-wise {rate(fw, n_tables)}"
    )
    meta = read_run_json(dirs[0])
    trips = list(itertools.combinations(runs, 3))
    for h in halves:
        st = run_statistics(load_run(h))
        scale = correlation_rescale(read_run_json(h), meta)
        raw, res = [], 0
        for trip in trips:
            cells = verdict_cells(st, list(trip), scale, alpha=alpha, prior=prior, control=control)
            raw.append(
                sum(c["verdict"] == "differs" for c in cells if c["statistic"] == "correlation")
            )
            res += sum(
                c["verdict"] == "differs" for c in cells if c["statistic"] == "correlation_rescaled"
            )
        row = {"raw_first_triplet": raw[0], "raw_mean": float(np.mean(raw)),
               "tables_with_6_of_8": float(np.mean(np.array(raw) >= 6)),
               "rescaled_differs": res / (8 * len(trips))}  # fmt: skip
        out["half"][h.name] = row
        print(
            f"10 s {h.name}: raw correlation differs in {raw[0]}/8 (first triplet), "
            f"{row['raw_mean']:.2f}/8 on average over {len(trips)} triplets, >= 6/8 in "
            f"{row['tables_with_6_of_8']:.0%}; rescaled differs in {row['rescaled_differs']:.1%}"
        )
    return out


def rate(n, k):
    return f"{n / k:.3f} +- {np.sqrt(n / k * (1 - n / k) / k):.3f}" if k else "n/a"


def measure(args, ens_a: dict, ens_b: dict, folds: list, control: str) -> dict:
    """Every measurement of the module docstring with the table's multiple-comparison
    ``control`` (the verdicts' ``fdr`` or ``fwer``)."""
    ens = ens_b
    seeds = sorted(ens)
    rng = np.random.default_rng(1)  # the same reference triplets for every control
    out: dict = {}
    # ---- false alarms: same model, different seeds
    per_stat = {s: [0, 0] for s in STATISTICS}
    fw, n_tables, mdes = 0, 0, {s: [] for s in STATISTICS}
    for (fold, prior), s in ((f, s) for f in folds for s in sorted(f[0])):
        others = [fold[o] for o in fold if o != s]
        for cells in null_tables(fold[s], others, prior, rng, args.triplets, args.alpha, control):
            n_tables += 1
            fw += any(c["verdict"] == "differs" for c in cells)
            for c in cells:
                if c.get("p_value") is None:
                    continue
                per_stat[c["statistic"]][0] += c["p_value"] < args.alpha
                per_stat[c["statistic"]][1] += 1
                if c.get("min_detectable_effect") is not None:
                    mdes[c["statistic"]].append((c["population"], c["min_detectable_effect"]))
    out["false_alarm_per_cell"] = {s: v[0] / v[1] for s, v in per_stat.items() if v[1]}
    out["family_wise_false_alarm"] = fw / n_tables
    print(
        f"false alarms (2 x {len(seeds)} seeds x {args.triplets} reference triplets, cross-fitted "
        f"priors, alpha {args.alpha}):"
    )
    for s, (k, n) in per_stat.items():
        print(f"  {s:<22} per cell (p < alpha): {rate(k, n)}  ({n} cells)")
    print(f"  family-wise (any 'differs' in the table): {rate(fw, n_tables)}  ({n_tables} tables)")

    # ---- false alarms as shipped: a held-out seed against references from the ensemble that
    # also gave the prior (all 24 seeds but the test seed)
    pooled = {("a", k): v for k, v in ens_a.items()} | {("b", k): v for k, v in ens_b.items()}
    keys = sorted(pooled)

    def loo_tables():
        for key in keys:
            others = [pooled[o] for o in keys if o != key]
            prior = ensemble_prior(others)
            yield from null_tables(
                pooled[key], others, prior, rng, args.triplets, args.alpha, control
            )

    k, n, loo_fw, n_loo = tally_null(loo_tables(), args.alpha)
    out["false_alarm_leave_one_out"] = {"per_cell": k / n, "family_wise": loo_fw / n_loo}
    print(
        f"false alarms as shipped (each of {len(keys)} seeds against triplets of the other "
        f"{len(keys) - 1}, whose prior it uses): per cell {rate(k, n)}, family-wise "
        f"{rate(loo_fw, n_loo)}"
    )
    out["median_mde"] = {}
    for s, vals in mdes.items():
        by_pop: dict = {}
        for pop, v in vals:
            by_pop.setdefault(pop, []).append(v)
        out["median_mde"][s] = {p: float(np.median(v)) for p, v in by_pop.items()}
    print("median minimum detectable effect (relative for rate/correlation/synchrony):")
    for s, by_pop in out["median_mde"].items():
        print(f"  {s:<22} " + " ".join(f"{p} {v:.3g}" for p, v in by_pop.items()))

    # ---- power: external rate +5 % / +10 %
    out["power"] = {}
    for tag in ("bg105", "bg110"):
        runs = sorted(args.data.glob(f"{tag}_s*"))
        if not runs:
            continue
        hits = {s: [0, 0] for s in STATISTICS}
        for r in runs:
            st = run_statistics(load_run(r))
            for _ in range(args.triplets):
                trip = rng.choice(seeds, 3, replace=False)
                for c in verdicts(st, [ens[t] for t in trip], alpha=args.alpha, control=control):
                    if c["verdict"] in ("differs", "consistent"):
                        hits[c["statistic"]][0] += c["verdict"] == "differs"
                        hits[c["statistic"]][1] += 1
        out["power"][tag] = {s: v[0] / v[1] for s, v in hits.items() if v[1]}
        print(f"power, external rate {tag[2:]} %: " + ", ".join(
            f"{s} {v:.2f}" for s, v in out["power"][tag].items()))  # fmt: skip

    # ---- power: synthetic per-population rate change (rates x factor in a same-model seed)
    pops = list(ens[seeds[0]])
    for factor in (1.1, 1.2):
        hit = tot = 0
        for s in seeds:
            others = [o for o in seeds if o != s]
            trip = rng.choice(others, 3, replace=False)
            for pop in pops:
                test = dict(ens[s])  # shallow: only this population's rates change
                test[pop] = {
                    **ens[s][pop],
                    "rates_hz": np.asarray(ens[s][pop]["rates_hz"]) * factor,
                }
                cells = verdicts(test, [ens[t] for t in trip], alpha=args.alpha, control=control)
                c = next(c for c in cells if c["population"] == pop and c["statistic"] == "rate")
                hit += c["verdict"] == "differs"
                tot += 1
        out["power"][f"rate_x{factor}"] = hit / tot
        print(f"power, one population's rates x{factor}: {rate(hit, tot)}")

    # ---- correlations x2: half the neurons at the same in-degrees (W kept)
    ref3_dir = args.data / "ref01_t3000"
    halves = sorted(args.data.glob("half_s*"))
    if ref3_dir.is_dir() and halves:
        ref3 = list(ensemble(ref3_dir).values())
        ref_meta = read_run_json(next(ref3_dir.glob("seed_*")))
        out["half"] = {}
        for h in halves:
            st = run_statistics(load_run(h))
            scale = correlation_rescale(read_run_json(h), ref_meta)
            cells = verdict_cells(
                st, ref3, correlation_scale=scale, alpha=args.alpha, control=control,
                prior=ensemble_prior([*ens_a.values(), *ens_b.values()]),
            )  # fmt: skip
            raw = [c for c in cells if c["statistic"] == "correlation"]
            res = [c for c in cells if c["statistic"] == "correlation_rescaled"]
            n_raw = sum(c["verdict"] == "differs" for c in raw)
            n_res = sum(c["verdict"] == "differs" for c in res)
            ratio = [c["test"] / c["reference"] for c in raw if c.get("reference")]
            out["half"][h.name] = {
                "raw_differs": n_raw,
                "rescaled_differs": n_res,
                "raw_ratio": ratio,
                "rescale": scale,
            }
            print(
                f"{h.name}: raw correlation differs in {n_raw}/8, rescaled (x{scale:g}) in "
                f"{n_res}/8; test/reference mean correlation " + " ".join(f"{r:.2f}" for r in ratio)
            )
    out["ten_seconds"] = ten_seconds(args.data, args.alpha, control)
    return out


def variance_model_check(data: Path, ens: dict, alpha: float) -> dict:
    """The 1/T variance model of ``time_needed``: the median sd x sqrt(T) of each cell at 3 s
    over that at 2 s (each seed against two others; 1 if the variance falls as 1/T). The
    sd does not depend on the multiple-comparison control, so it is measured once."""
    ref3_dir = data / "ref01_t3000"
    if not ref3_dir.is_dir():
        return {}
    ens3 = ensemble(ref3_dir)
    out = {}
    for stat in ("rate", "correlation", "synchrony"):
        vals = {}
        for tag, e, t in (("2s", ens, 2.0), ("3s", ens3, 3.0)):
            ss = sorted(e)[:3]
            vals[tag] = [
                c["sd"] * np.sqrt(t)
                for s in ss
                for c in verdicts(e[s], [e[o] for o in ss if o != s], alpha=alpha)
                if c["statistic"] == stat and c.get("sd")
            ]
        out[stat] = float(np.median(vals["3s"]) / np.median(vals["2s"]))
        print(
            f"sd x sqrt(T), 3 s over 2 s (1 if the variance falls as 1/T): {stat} {out[stat]:.2f}"
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--triplets", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument(
        "--write-prior",
        action="store_true",
        help=f"write the prior of both ensembles (24 seeds) to {PRIOR_FILE.name} (shipped)",
    )
    args = ap.parse_args()
    global PRIOR
    ens_a = ensemble(args.data / "ref01_t2000")
    ens_b = ensemble(args.data / "ref01_t2000b")
    # cross-fitted: false alarms of each ensemble under the prior of the other one
    folds = [(ens_b, ensemble_prior(list(ens_a.values())))]
    folds.append((ens_a, ensemble_prior(list(ens_b.values()))))
    PRIOR = folds[0][1]  # the power measurements: references from B, prior from A
    for tag, (_, prior) in zip("AB", folds, strict=True):
        print(f"overdispersion phi of ensemble {tag} (weight {prior['df']:g} df):")
        for stat, v in prior["phi"].items():
            print(f"  {stat:<12} " + " ".join(f"{p} {x:.2f}" for p, x in v.items()))
    if args.write_prior:
        both = [*ens_a.values(), *ens_b.values()]
        shipped = ensemble_prior(both)
        seeds = sorted(ens_a) + sorted(ens_b)
        add_entry({
            "n_scale": 0.1, "k_scale": 0.1, "method": "sqrt-k", "t_sim_ms": 2000.0,
            "seeds": seeds, "df": shipped["df"], "phi": shipped["phi"],
            "source": "benchmarks/compare_calibration.py --write-prior: NEST seeds "
            f"{seeds}, n = k = 0.1, 2000 ms after the warm-up",
        })  # fmt: skip
        print(f"wrote {PRIOR_FILE}")
    out: dict = {"alpha": args.alpha, "seeds": sorted(ens_b), "priors": [f[1] for f in folds]}
    for control in CONTROLS:
        print(f"\n==== control {control} ({CONTROLS[control]}) ====")
        out[control] = measure(args, ens_a, ens_b, folds, control)
    out["sd_sqrt_t_ratio_3s_over_2s"] = variance_model_check(args.data, ens_b, args.alpha)
    (args.data / "calibration.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
