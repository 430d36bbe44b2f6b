"""``run.py reference`` and ``run.py sweep``: reference ensembles and the downscaling study.

Layout of a reference directory: ``reference.json`` (options), ``seed_<s>/`` (run
directories), ``stats/seed_<s>.npz`` (cached statistics), ``summary.json``. A sweep directory:
``sweep.json``, ``<method>_n<n>_k<k>_s<seed>/`` runs, ``stats/``, ``results.json``,
``figures/*.png``, ``report.html``. Both resume: rerunning the same command skips finished
runs and redoes an interrupted one.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import UserError
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

    ap.add_argument(
        "--platform",
        default="nest",
        choices=_study_platforms(),
        help="a platform that runs locally (default nest); every run is a child process",
    )
    ap.add_argument(
        "--t-sim",
        type=_positive_float("--t-sim"),
        default=DEFAULT_T_SIM_MS,
        help=f"analysed time per run, ms (default {DEFAULT_T_SIM_MS:g})",
    )
    ap.add_argument("--t-presim", type=_positive_float("--t-presim"), default=DEFAULT_T_PRESIM_MS)
    ap.add_argument("--threads", type=int, default=None, help="threads per run (NEST)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    ap.add_argument("-q", "--quiet", action="store_true")


def _study_platforms() -> list[str]:
    """Platforms a study can run: those without a command-line front end of their own (a
    SpiNNaker ensemble is one job: run.py --platform spinnaker --seeds ...)."""
    from ..platform import get_platform, platform_names

    return [n for n in platform_names() if get_platform(n).command is None]


def _check_study_args(args) -> None:
    """Refused before a study directory is claimed: options the platform does not take."""
    from ..platform import get_platform

    if args.threads and "threads" not in get_platform(args.platform).options:
        raise UserError(f"--threads is not an option of --platform {args.platform}; drop it")


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
    preds = predict_cells(cells, p, _predict(args))
    return StudyPlan(runs, predictions=preds)


def _predict(args):
    """The platform's capacity model for this command's run length and threads (the runs are
    not analysed one by one)."""
    from ..platform import CapacityOptions, get_platform

    capacity = get_platform(args.platform).capacity(
        CapacityOptions(args.t_presim, args.t_sim, threads=args.threads, analysis=False)
    )

    def one(spec):
        return capacity(spec, {})

    return one


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

    _check_study_args(args)
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
    from pynn_microcircuit.analysis.sweep import reference_statistics

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
    _check_study_args(args)
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
        predictions=predict_cells([c for c, _ in unique.values()], p, _predict(args)),
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

    from pynn_microcircuit.analysis.sweep import analyse_sweep

    results = analyse_sweep(out, ref, st["cells"], st["skipped"], st["unique"], p)
    print(results["kept_text"])
    print(f"report: {out / 'report.html'}")
    return 0
