"""Analyse a run, compare it with references, draw the figures and write a self-contained report.

Outputs go to a new folder (``RUN/analysis``, or ``analysis_2``... if that exists); the run's
own files are only read.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

from .compare import (
    compare,
    correlation_law_note,
    correlation_rescale,
    distance_table,
)
from .htmlpage import (
    DISTANCE_HELP,
    comparison_table,
    img,
    run_line,
    summary_table,
    warning_html,
    write_html,
)
from .io import Run, load_run
from .plots import (
    plot_cross_correlations,
    plot_distances,
    plot_distributions,
    plot_raster,
    plot_rate_boxplot,
    plot_spectra,
    plot_verdict_cells,
)
from .runstats import cc_summary, cross_correlations, run_statistics, summary  # noqa: F401 - re-exported

log = logging.getLogger(__name__)


def _fresh_dir(base: Path) -> Path:
    path = base
    k = 2
    while path.exists():
        path = base.with_name(f"{base.name}_{k}")
        k += 1
    path.mkdir(parents=True)
    return path


def validity_warning(meta: dict) -> str | None:
    """The run's own statement that its hardware run is invalid or unverified (a SpiNNaker
    run whose provenance counters show lost activity, or could not be read) or that its
    activity collapsed (silent populations, rates far from the mean field), else None."""
    notes = []
    if "valid" in meta and meta["valid"] is not True:
        notes.append(
            meta.get("validity_note")
            or (
                "the run is marked invalid"
                if meta["valid"] is False
                else "the run's validity is unknown"
            )
        )
    if meta.get("activity_note"):
        notes.append(meta["activity_note"])
    return "; ".join(notes) or None


def analyse(run_dir: str | Path, seed: int = 0) -> Path:
    """Write ``RUN/analysis/`` (stats.json, PNG figures, report.html); returns the folder."""
    run = load_run(run_dir)
    stats = run_statistics(run, seed=seed)
    out = _fresh_dir(Path(run_dir) / "analysis")
    summ = summary(stats)
    cc = cross_correlations(run)
    (out / "stats.json").write_text(
        json.dumps(
            {"run": str(run.path), "summary": summ, "rate_cross_correlation": cc_summary(cc)},
            indent=2,
        )
        + "\n"
    )
    figs = [
        plot_raster(run, out / "raster.png"),
        plot_rate_boxplot(stats, out / "rates.png"),
        plot_distributions(stats, out / "distributions.png", duration_s=run.duration_s),
        plot_spectra(stats, out / "spectra.png"),
        plot_cross_correlations(cc, list(run.populations), out / "cross_correlations.png"),
    ]
    warning = validity_warning(run.meta)
    if warning:
        log.warning("%s: %s", run.path.name, warning)
    write_html(
        out / "report.html",
        f"Microcircuit run '{run.path.name}'",
        [
            ("Run", warning_html([warning] if warning else []) + run_line(run.meta)),
            ("Summary", summary_table(summ, run.meta)),
            ("Raster", img(figs[0])),
            ("Rates", img(figs[1])),
            ("Distributions", img(figs[2])),
            ("Spectra", img(figs[3])),
            ("Cross-correlations of population rates", img(figs[4])),
        ],
    )
    return out


def expand_references(paths) -> list[Path]:
    """Run directories from ``paths``; a reference ensemble (``run.py reference``) stands for
    its finished seed runs."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "reference.json").is_file():
            seeds = sorted(d for d in p.glob("seed_*") if (d / "run.json").is_file())
            out.extend(seeds)
        else:
            out.append(p)
    return out


def _reference_statistics(run: Run, seed: int) -> dict:
    """Statistics of a reference run, from its ensemble's cache when it has one."""
    if seed == 0 and (run.path.parent / "reference.json").is_file():
        from .study import study_statistics

        return study_statistics(run.path)
    return run_statistics(run, seed=seed)


def _check_inputs(runs: list, refs: list) -> None:
    """One-line refusals: a test run among its references, a reference given twice, runs of
    unequal duration, resolution or populations."""
    from pynn_microcircuit.errors import UserError

    seen: dict = {}
    for r in refs:
        key = r.path.resolve()
        if key in seen:
            raise UserError(f"reference '{r.path}' is given twice; give each reference once")
        seen[key] = r
    for t in runs:
        if t.path.resolve() in seen:
            raise UserError(
                f"'{t.path}' is both tested and a reference; a run compared with itself "
                "proves nothing - take it out of --reference"
            )
    first = runs[0]
    for r in [*runs[1:], *refs]:
        if abs(r.duration_s - first.duration_s) > 1e-9:
            raise UserError(
                f"'{r.path}' analyses {r.duration_s:g} s, '{first.path}' "
                f"{first.duration_s:g} s; compare runs of equal duration (--t-sim)"
            )
        if r.meta.get("resolution_ms") != first.meta.get("resolution_ms"):
            raise UserError(
                f"'{r.path}' and '{first.path}' have different resolutions; compare "
                "runs with the same time step"
            )
        if list(r.populations) != list(first.populations):
            raise UserError(f"'{r.path}' has other populations than '{first.path}'")


def planned_vs_measured(plan: dict | None, cells: list[dict]) -> str:
    """HTML: the plan's measured-fidelity figures (``fidelity_by_statistic``) beside what
    this comparison measured (the largest population effect of each statistic)."""
    if not plan or not plan.get("fidelity_by_statistic"):
        return (
            "<p>The tested run was not made from a plan (or its plan has no measured figures).</p>"
        )
    rows = []
    for stat, f in plan["fidelity_by_statistic"].items():
        got = [c for c in cells if c["statistic"] == stat and c.get("effect_size") is not None]
        worst = max(got, key=lambda c: abs(c["effect_size"]), default=None)
        pct = stat != "cv_isi"
        fmt = (lambda v: f"{100 * v:+.1f} %") if pct else (lambda v: f"{v:+.3f}")
        planned = (
            f"{fmt(f['value'])} [{fmt(f['interval'][0])}, {fmt(f['interval'][1])}] ({f['source']})"
            if f.get("value") is not None
            else f"theory only ({html.escape(f.get('note', ''))})"
        )
        measured = f"{fmt(worst['effect_size'])} ({worst['population']})" if worst else "-"
        rows.append(f"<tr><td>{stat}</td><td>{planned}</td><td>{measured}</td></tr>")
    return (
        "<p>The plan's stated deviation from full-scale NEST (largest population, 95 % "
        "interval, pynn_microcircuit/atlas.py) beside the largest population effect this "
        "comparison measured.</p><table><tr><th>statistic</th><th>planned</th><th>measured"
        "</th></tr>" + "".join(rows) + "</table>"
    )


def compare_runs(
    run_dir,
    reference_dirs: list,
    seed: int = 0,
    alpha: float = 0.05,
    margins: dict | None = None,
    detect: dict | None = None,
    control: str | None = None,
) -> tuple[Path, dict]:
    """Write ``comparison/`` (JSON, verdict map, distributions, distance map, report.html)
    into the (first) tested directory.

    ``run_dir``: a run directory, a list of them (a test ensemble: seeds of one model), or an
    ensemble directory. The verdicts are
    :func:`pynn_microcircuit.analysis.verdicts.verdict_cells` (error rate ``alpha`` under
    ``control``, each side's seed-to-seed variance from its own runs and its own prior, the
    minimum detectable effect of each cell, equivalence within ``margins``); the distance
    ratios of :func:`pynn_microcircuit.analysis.compare.compare` (of the first test run) are
    reported beside them. Returns the folder and the distance result."""
    from . import priors
    from .verdicts import (
        CONTROLS,
        DEFAULT_CONTROL,
        rate_words,
        shown_cells,
        variance_html_table,
        verdict_cells,
        verdict_html_table,
    )

    control = control or DEFAULT_CONTROL
    given = [run_dir] if isinstance(run_dir, str | Path) else list(run_dir)
    runs = [load_run(r) for r in expand_references(given)]
    refs = [load_run(r) for r in expand_references(reference_dirs)]
    _check_inputs(runs, refs)
    run = runs[0]
    if len(refs) < 2:  # benchmarks/compare_few_references.py, README
        log.warning(
            "one reference run: its seed-to-seed variance comes from the prior alone, so the "
            "verdicts see less (measured at n = k = 0.1: detectable rate change 14 %% vs 10 "
            "%% with three references); give three or more reference seeds"
        )
    warnings = [
        f"{r.path.name}: {w}" for r in [*runs, *refs] if (w := validity_warning(r.meta)) is not None
    ]
    for w in warnings:  # said before any verdict
        log.warning("%s - the verdicts below compare it as it is", w)
    test_stats = [_reference_statistics(r, seed) for r in runs]
    ref_stats = [_reference_statistics(r, seed) for r in refs]
    scale = correlation_rescale(run.meta, refs[0].meta)
    law = correlation_law_note(run.meta, refs[0].meta)
    result = compare(test_stats[0], ref_stats, correlation_scale=scale)
    test_prior, ref_prior, prior_note = priors.for_comparison(
        refs[0].populations, [r.meta for r in runs], refs[0].meta
    )
    cells = verdict_cells(
        test_stats, ref_stats, scale, alpha=alpha, margins=margins, distances=result,
        duration_s=run.duration_s, detect=detect, prior=ref_prior, control=control,
        test_prior=test_prior,
    )  # fmt: skip
    test_stats = test_stats[0]  # figures and tables below show the first test run
    out = _fresh_dir(Path(given[0]) / "comparison")
    (out / "comparison.json").write_text(
        json.dumps(
            {
                "run": str(run.path),
                "tests": [str(r.path) for r in runs],
                "references": [str(r.path) for r in refs],
                "warnings": warnings,
                "correlation_law": law,
                "correlation_rescale": scale,
                "alpha": alpha,
                "control": f"{control} ({CONTROLS[control]})",
                "margins": margins or {},
                "duration_s": run.duration_s,
                "overdispersion_prior": {
                    "test": None if test_prior is None else test_prior["label"],
                    "reference": ref_prior["label"],
                    "note": prior_note,
                },
                "cells": cells,
                "distances": result,
            },
            indent=2,
        )
        + "\n"
    )
    shown, left_out = shown_cells(cells)
    figs = [
        plot_verdict_cells(
            shown,
            out / "verdicts.png",
            f"{run.path.name}{f' and {len(runs) - 1} more' if len(runs) > 1 else ''} vs "
            f"{len(refs)} reference run(s): verdicts at\n"
            f"{rate_words(control, alpha)}\ncell: difference from the references' mean; "
            "≥: the smallest difference it would have detected (probability 0.8)",
            left_out,
        ),
        plot_distributions(test_stats, out / "distributions.png", ref_stats, run.duration_s, cells),
        plot_distances(result, out / "distances.png"),
    ]
    write_html(
        out / "report.html",
        f"{Path(given[0]).name}{f' ({len(runs)} runs)' if len(runs) > 1 else ''} vs reference",
        [
            (
                "Runs",
                warning_html(warnings)
                + run_line(run.meta)
                + (
                    "<p>test runs: " + ", ".join(html.escape(str(r.path)) for r in runs) + "</p>"
                    if len(runs) > 1
                    else ""
                )
                + "<p>references: "
                + ", ".join(html.escape(str(r.path)) for r in refs)
                + "</p>",
            ),
            (
                "Verdicts",
                f"<p>Each cell: verdict at {rate_words(control, alpha)}, "
                f"the difference from the reference mean, its {CONTROLS[control]}-adjusted "
                "p-value, and the "
                "smallest difference this comparison detects with probability 0.8, and the "
                "simulated time (test and references alike) a given effect needs "
                "(analysis/verdicts.py).</p>" + img(figs[0]) + verdict_html_table(cells),
            ),
            (
                "Planned vs measured",
                planned_vs_measured(run.meta.get("plan"), cells),
            ),
            (
                "Variance sources",
                f"<p>Overdispersion priors: {html.escape(prior_note)}. Each side's "
                "seed-to-seed variance is its runs' sampling variance times its own "
                "overdispersion phi, moderated towards its prior (analysis/priors.py).</p>"
                + variance_html_table(cells),
            ),
            (
                "Distribution distances",
                DISTANCE_HELP
                + f"<p>Rescaled mean correlation: {html.escape(law)}"
                + (f" (test x {scale:.3g}).</p>" if scale is not None else "; not compared.</p>")
                + img(figs[2])
                + f"<pre>{html.escape(distance_table(result))}</pre>",
            ),
            (
                "Means",
                comparison_table(summary(test_stats), [summary(r) for r in ref_stats]),
            ),
            ("Distributions", img(figs[1])),
        ],
    )
    return out, result
