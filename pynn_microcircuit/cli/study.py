"""``run.py reference`` and ``run.py sweep``: reference ensembles and the downscaling study.

Layout of a reference directory: ``reference.json`` (options), ``seed_<s>/`` (run
directories), ``stats/seed_<s>.npz`` (cached statistics), ``summary.json``. A sweep directory:
``sweep.json``, ``<method>_n<n>_k<k>_s<seed>/`` runs, ``stats/``, ``results.json``,
``figures/*.png``, ``report.html``. Both resume: rerunning the same command skips finished
runs and redoes an interrupted one.
"""

from __future__ import annotations

import argparse
import html
import logging
from pathlib import Path

from ..errors import UserError
from ..rundir import write_json_atomic
from ..runner import DEFAULT_T_PRESIM_MS, DEFAULT_T_SIM_MS
from ..study import (
    METHODS,
    SWEEP_GROUPS,
    Cell,
    StudyPlan,
    check_fits_machine,
    claim_study_dir,
    feasibility,
    format_plan,
    load_reference,
    method_cell,
    parse_list,
    parse_seeds,
    predict_cells,
    run_all,
)
from .args import Parser

log = logging.getLogger("pynn_microcircuit")

DEFAULT_REFERENCE_SEEDS = "0-2"
DEFAULT_SWEEP = {"methods": "n,sqrt-k,linear-k,none", "scales": "1,0.5,0.2,0.1", "seeds": "0"}
#: Cells the default sweep adds, so every scaling option of the study appears: linear-k
#: where it is feasible (k >= its largest k_min, 0.9004: 0.95, 0.92), linear-k with partial
#: compensation below
#: k_min, and N-scaling at a reduced in-degree.
DEFAULT_EXTRA_CELLS = (
    ("linear-k", 0.95),
    ("linear-k", 0.92),
    ("linear-k-partial", 0.5),
    ("linear-k-partial", 0.2),
    ("n@0.5", 0.2),
    ("n@0.5", 0.1),
)


def _common_args(ap: argparse.ArgumentParser) -> None:
    from .main import _positive_float

    ap.add_argument("--platform", default="nest", choices=["nest"])
    ap.add_argument(
        "--t-sim",
        type=_positive_float("--t-sim"),
        default=DEFAULT_T_SIM_MS,
        help=f"analysed time per run, ms (default {DEFAULT_T_SIM_MS:g})",
    )
    ap.add_argument("--t-presim", type=_positive_float("--t-presim"), default=DEFAULT_T_PRESIM_MS)
    ap.add_argument("--threads", type=int, default=None, help="NEST threads per run")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    ap.add_argument("-q", "--quiet", action="store_true")


def _run_options(args) -> list[str]:
    common = ["--platform", args.platform, "--t-sim", f"{args.t_sim:g}"]
    common += ["--t-presim", f"{args.t_presim:g}"]
    if args.threads:
        common += ["--threads", str(args.threads)]
    return common


# --------------------------------------------------------------------------- reference


def reference_plan(out: Path, n: float, k: float, method: str, seeds, args, p) -> StudyPlan:
    """Claim (or resume) ``out`` as a reference directory; the runs it needs."""
    options = {
        "platform": args.platform,
        "n_scale": n,
        "k_scale": k,
        "method": method,
        "t_sim_ms": args.t_sim,
        "t_presim_ms": args.t_presim,
    }
    if not args.dry_run:
        claim_study_dir(out, "reference", options)
    cells = [Cell(method, n, k, s) for s in seeds]
    why = feasibility(cells[0], p)
    if why:
        raise UserError(why)
    runs = [(c, out / f"seed_{c.seed}") for c in cells]
    preds = predict_cells(cells, p, _nest_predict(args))
    return StudyPlan(runs, predictions=preds)


def _nest_predict(args):
    """The NEST capacity model for this command's run length and threads."""
    from pynn_microcircuit.platforms.nest.capacity import predict

    def one(spec):
        return predict(spec, threads=args.threads, t_presim_ms=args.t_presim, t_sim_ms=args.t_sim)

    return one


def reference_statistics(ref: Path):
    """Cached statistics and scalar summaries of every finished seed of ``ref``."""
    from pynn_microcircuit.analysis.study import reference_band, scalar_summary, study_statistics

    meta, runs = load_reference(ref)
    stats = {s: study_statistics(d) for s, d in runs}
    summaries = {
        s: scalar_summary(
            st, float(meta["n_scale"]), float(meta["k_scale"]), meta.get("method") or "n"
        )
        for s, st in stats.items()
    }
    band = reference_band(list(summaries.values()))
    write_json_atomic(
        ref / "summary.json",
        {"seeds": list(stats), "per_seed": summaries, "band_mean_sd": band},
    )
    return meta, stats, band


def reference_parser() -> argparse.ArgumentParser:
    from .main import _scale

    ap = Parser(
        prog="run.py reference",
        description="Run (or resume) a reference ensemble: one run per seed, statistics once.",
    )
    ap.add_argument("--n-scale", type=_scale, default=1.0)
    ap.add_argument("--k-scale", type=_scale, default=None, help="default: --n-scale")
    ap.add_argument("--method", choices=METHODS, default=None)
    ap.add_argument("--seeds", default=DEFAULT_REFERENCE_SEEDS, help="e.g. 0-4 or 1,3,7")
    ap.add_argument("--out", default=None, help="reference directory (created or resumed)")
    _common_args(ap)
    return ap


def reference_setup(args) -> tuple[Path, StudyPlan]:
    """The reference directory (claimed unless --dry-run) and the runs it needs."""
    from ..params import Params

    n = args.n_scale
    k = args.k_scale if args.k_scale is not None else n
    method = args.method or ("none" if n == k == 1 else ("n" if k == 1 else "sqrt-k"))
    seeds = parse_seeds(args.seeds)
    out = Path(args.out or f"runs/reference_n{n:g}_k{k:g}_t{args.t_sim:g}")
    return out, reference_plan(out, n, k, method, seeds, args, Params())


def cmd_reference(argv) -> int:
    from .main import _setup_logging

    args = reference_parser().parse_args(argv)
    _setup_logging(args.quiet)
    out, plan = reference_setup(args)
    print(format_plan(plan))
    if args.dry_run:
        return 0
    check_fits_machine(plan)
    run_all(plan, _run_options(args), out / "runs.log")
    _, stats, band = reference_statistics(out)
    print(f"reference: {out} ({len(stats)} seeds); mean rates (Hz) over seeds:")
    for pop, q in band.items():
        m, sd = q["mean_rate_hz"]
        print(f"  {pop:<6} {m:7.3f} ± {sd:.3f}")
    return 0


# --------------------------------------------------------------------------- sweep


def sweep_cells(methods, scales, seeds, p, extra=()) -> tuple[list, list]:
    """Grid cells ``[(method, scale, Cell)]`` and skipped ``[(method, scale, reason)]``:
    every method at every scale, then the ``extra`` (method, scale) pairs."""
    cells, skipped = [], []
    pairs = [(m, s) for m in methods for s in scales] + list(extra)
    for method, scale in dict.fromkeys(pairs):  # in order, each once
        why = feasibility(method_cell(method, scale, seeds[0]), p)
        if why:
            skipped.append((method, scale, why))
            continue
        cells.extend((method, scale, method_cell(method, scale, s)) for s in seeds)
    return cells, skipped


def _theory(cells, p) -> dict:
    """Mean-field rates of each (method, scale): ``{method: {scale: {pop: Hz}}}``."""
    from ..theory import self_consistent_rates

    out: dict = {}
    for method, scale, cell in cells:
        if scale in out.get(method, {}):
            continue
        spec = cell.spec(p)
        try:
            rates = self_consistent_rates(spec)
        except RuntimeError:
            continue
        out.setdefault(method, {})[scale] = dict(zip(spec.populations, map(float, rates)))
    return out


def sweep_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="run.py sweep",
        description="Downscaling sweep: run methods x scales, compare each with a full-scale "
        "reference, draw each statistic vs scale. With no options: the documented default "
        "(methods n,sqrt-k,linear-k,none; scales 1,0.5,0.2,0.1; 1 s per run; a 3-seed "
        "full-scale reference made first if --reference is not given).",
    )
    ap.add_argument("--methods", default=DEFAULT_SWEEP["methods"])
    ap.add_argument("--scales", default=DEFAULT_SWEEP["scales"])
    ap.add_argument("--seeds", default=DEFAULT_SWEEP["seeds"], help="seeds per cell")
    ap.add_argument(
        "--reference",
        default=None,
        help="full-scale reference directory (default: made or resumed under runs/)",
    )
    ap.add_argument("--out", default=None, help="sweep directory (created or resumed)")
    _common_args(ap)
    return ap


def sweep_setup(args, p) -> dict:
    """Reference (given, or the default full-scale one with its runs), the sweep directory
    (claimed unless --dry-run), grid cells, skipped cells and the runs to do."""
    methods = parse_list(args.methods, "--methods", METHODS + SWEEP_GROUPS)
    scales = sorted(set(parse_list(args.scales, "--scales", kind=float)), reverse=True)
    if any(not 0 < s <= 1 for s in scales):
        raise UserError(f"--scales must lie in (0, 1], got {args.scales}")
    seeds = parse_seeds(args.seeds)

    # the reference: given, or the default full-scale ensemble (made first)
    if args.reference:
        ref = Path(args.reference)
        ref_meta, ref_runs = load_reference(ref)
        if float(ref_meta["t_sim_ms"]) != args.t_sim:
            raise UserError(
                f"reference '{ref}' analyses {ref_meta['t_sim_ms']:g} ms, the sweep "
                f"{args.t_sim:g} ms; pass --t-sim {ref_meta['t_sim_ms']:g}"
            )
        ref_plan = StudyPlan([])
        ref_seeds = [s for s, _ in ref_runs]
    else:
        ref = Path(f"runs/reference_n1_k1_t{args.t_sim:g}")
        ref_seeds = parse_seeds(DEFAULT_REFERENCE_SEEDS)
        ref_plan = reference_plan(ref, 1.0, 1.0, "none", ref_seeds, args, p)

    options = {"platform": args.platform, "t_sim_ms": args.t_sim, "t_presim_ms": args.t_presim}
    out = Path(args.out or f"runs/sweep_t{args.t_sim:g}")
    if not args.dry_run:
        claim_study_dir(out, "sweep", options)
    default = args.methods == DEFAULT_SWEEP["methods"] and args.scales == DEFAULT_SWEEP["scales"]
    extra = DEFAULT_EXTRA_CELLS if default else ()
    cells, skipped = sweep_cells(methods, scales, seeds, p, extra)
    # full-scale cells whose seed is a reference seed reuse that reference run
    unique: dict[str, tuple[Cell, Path]] = {}
    for _, _, c in cells:
        full_in_ref = c.n_scale == c.k_scale == 1.0 and c.seed in ref_seeds
        unique.setdefault(c.name, (c, ref / f"seed_{c.seed}" if full_in_ref else out / c.name))
    run_plan = StudyPlan(
        [u for u in unique.values() if u[1].parent != ref],
        skipped=skipped,
        predictions=predict_cells([c for c, _ in unique.values()], p, _nest_predict(args)),
    )
    return {
        "ref": ref,
        "ref_plan": ref_plan,
        "out": out,
        "cells": cells,
        "skipped": skipped,
        "unique": unique,
        "run_plan": run_plan,
    }


def cmd_sweep(argv) -> int:
    from ..params import Params
    from .main import _setup_logging

    args = sweep_parser().parse_args(argv)
    _setup_logging(args.quiet)
    p = Params()
    st = sweep_setup(args, p)
    ref, ref_plan, run_plan, out = st["ref"], st["ref_plan"], st["run_plan"], st["out"]
    print("reference:" if ref_plan.runs else f"reference: {ref}")
    if ref_plan.runs:
        print(format_plan(ref_plan))
    print("sweep:")
    print(format_plan(run_plan))
    if args.dry_run:
        return 0
    check_fits_machine(ref_plan)
    check_fits_machine(run_plan)
    run_all(ref_plan, _run_options(args), ref / "runs.log")
    run_all(run_plan, _run_options(args), out / "runs.log")

    results = analyse_sweep(out, ref, st["cells"], st["skipped"], st["unique"], p)
    print(results["kept_text"])
    print(f"report: {out / 'report.html'}")
    return 0


def analyse_sweep(out: Path, ref: Path, cells, skipped, unique, p) -> dict:
    """Statistics, verdicts, figures, results.json and report.html of a finished sweep."""
    import numpy as np

    from pynn_microcircuit.analysis.report import _img, write_html
    from pynn_microcircuit.analysis.study import (
        SWEEP_QUANTITIES,
        compare_with_reference,
        kept_table,
        scalar_summary,
        study_statistics,
    )
    from pynn_microcircuit.analysis.sweep_plots import plot_quantity

    ref_meta, ref_stats, band = reference_statistics(ref)
    measured: dict = {}
    verdicts: dict = {}
    per_run: dict = {}
    judged: dict = {}  # cell name -> (verdict, summary): scale 1 is one run for every method
    for method, scale, cell in cells:
        _, run_dir = unique[cell.name]
        if cell.name not in judged:
            st = study_statistics(run_dir)
            reused = run_dir.parent == ref  # one of the reference seeds: leave it out
            refs = [s for seed, s in ref_stats.items() if not (reused and seed == cell.seed)]
            judged[cell.name] = (
                compare_with_reference(
                    st, refs, {"n_scale": cell.n_scale, "k_scale": cell.k_scale}, ref_meta
                ),
                scalar_summary(st, cell.n_scale, cell.k_scale, cell.method),
            )
        verdict, summ = judged[cell.name]
        per_run[f"{method}@{scale:g}/s{cell.seed}"] = {
            "run": str(run_dir),
            "summary": summ,
            "verdicts": verdict,
        }
        verdicts.setdefault((method, scale), []).append(verdict)
        bucket = measured.setdefault(method, {}).setdefault(scale, {})
        for pop, row in summ.items():
            for q, v in row.items():
                bucket.setdefault(pop, {}).setdefault(q, []).append(v)
    for by_scale in measured.values():  # mean over seeds
        for pops in by_scale.values():
            for row in pops.values():
                for q, vals in row.items():
                    vals = [v for v in vals if v is not None]
                    row[q] = float(np.mean(vals)) if vals else None
    kept = kept_table({key: vs[0] for key, vs in verdicts.items()})
    theory = _theory(cells, p)
    pops = list(band)
    rn, rk = float(ref_meta["n_scale"]), float(ref_meta["k_scale"])
    law_corr = {
        "1/n law (reference x n_ref / n)": {
            s: {pop: band[pop]["mean_correlation"][0] * rn / s for pop in pops}
            for s in measured.get("n", {})
        }
    }
    ref_label = "full-scale reference" if rn == rk == 1 else f"reference (n={rn:g}, k={rk:g})"
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    figs = {}
    for q in SWEEP_QUANTITIES:
        figs[q] = plot_quantity(
            q,
            measured,
            band,
            fig_dir / f"{q}.png",
            theory=theory if q == "mean_rate_hz" else None,
            law=law_corr if q == "mean_correlation" and "n" in measured else None,
            reference_label=ref_label,
        )
    text = kept_text(kept, skipped)
    results = {
        "reference": str(ref),
        "reference_seeds": list(ref_stats),
        "runs": per_run,
        "kept": {m: {f"{s:g}": row for s, row in by.items()} for m, by in kept.items()},
        "skipped": [{"method": m, "scale": s, "reason": r} for m, s, r in skipped],
        "theory_rates_hz": {m: {f"{s:g}": v for s, v in by.items()} for m, by in theory.items()},
        "kept_text": text,
    }
    write_json_atomic(out / "results.json", results)
    sections = [
        (
            "Sweep",
            f"<p>reference {html.escape(str(ref))} (seeds {list(ref_stats)}, "
            f"{ref_meta['t_sim_ms']:g} ms each); every run compared with it as in "
            "<code>run.py compare</code>.</p>",
        ),
        ("What each method keeps", kept_html(kept, skipped)),
    ]
    sections += [(SWEEP_QUANTITIES[q], _img(f)) for q, f in figs.items()]
    write_html(out / "report.html", "Downscaling sweep", sections)
    return results


STAT_NAMES = {
    "rates_hz": "rates",
    "cv_isi": "ISI CV",
    "correlations": "correlations",
    "correlations_rescaled": "corr. × law",
    "synchrony": "synchrony",
    "spectrum": "spectrum",
}


def _kept_cells(kept: dict):
    """Columns (method, scale) below 1 and, per statistic, the cell texts."""
    cols = [(m, s) for m, by in kept.items() for s in sorted(by, reverse=True) if s < 1]
    rows = {}
    for stat, name in STAT_NAMES.items():
        cells = []
        for m, s in cols:
            kv = kept[m][s].get(stat)
            if kv is None:
                cells.append("—")
            elif kv[0]:
                cells.append("kept")
            else:
                worst = "" if kv[1] is None else _worst(stat, kv[1])
                cells.append((worst + (f" {kv[2]}silent" if kv[2] else "")).strip())
        rows[name] = cells
    return cols, rows


def _worst(stat: str, worst: float) -> str:
    if stat == "spectrum":
        return f"x{worst:.1f}"
    return f"±{worst:.3g}" if stat == "cv_isi" else f"±{100 * worst:.0f}%"


KEPT_HELP = [
    "kept: no population 'differs' (calibrated verdicts as in run.py compare, family-wise 5 %);",
    "±E: the largest effect over populations (relative; absolute for the ISI CV); spectrum:",
    "within 2x the reference spread, xR the worst distance / spread; Nsilent: N populations",
    "without data where the reference has some; —: not compared (no correlation law).",
]


def kept_text(kept: dict, skipped) -> str:
    """Statistic x (method @ scale) as plain text (see :data:`KEPT_HELP`)."""
    cols, rows = _kept_cells(kept)
    if not cols:
        return "no downscaled runs"
    width = max(14, *(len(c) + 2 for cells in rows.values() for c in cells))
    head = f"{'statistic':<18}" + "".join(f"{m + '@' + format(s, 'g'):>{width}}" for m, s in cols)
    lines = [head] + [
        f"{name:<18}" + "".join(f"{c:>{width}}" for c in cells) for name, cells in rows.items()
    ]
    lines += KEPT_HELP
    for m, s, why in skipped:
        lines.append(f"{m} at {s:g}: not run - {why.split(': ')[0]}")
    return "\n".join(lines)


def kept_html(kept: dict, skipped) -> str:
    """The same table in HTML, kept cells green, changed ones red."""
    cols, rows = _kept_cells(kept)
    if not cols:
        return "<p>no downscaled runs</p>"
    out = ["<table><tr><th>statistic</th>"]
    out += [f"<th>{html.escape(m)} @ {s:g}</th>" for m, s in cols]
    out.append("</tr>")
    for name, cells in rows.items():
        out.append(f"<tr><th>{html.escape(name)}</th>")
        for c in cells:
            cls = "ok" if c == "kept" else ("" if c == "—" else "bad")
            out.append(f"<td class='{cls}'>{html.escape(c)}</td>")
        out.append("</tr>")
    out.append("</table><p>" + html.escape(" ".join(KEPT_HELP)) + "</p>")
    if skipped:
        out.append(
            "<p>Not run: "
            + "; ".join(html.escape(f"{m} at {s:g}") for m, s, _ in skipped)
            + f" — {html.escape(skipped[0][2])}</p>"
        )
    return "".join(out)
