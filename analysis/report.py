"""Analyse a run, compare it with references, draw the figures and write a self-contained report.

Outputs go to a new folder (``RUN/analysis``, or ``analysis_2``... if that exists); the run's
own files are only read.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
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
    from .verdicts import DEFAULT_CONTROL

    control = control or DEFAULT_CONTROL
    given = [run_dir] if isinstance(run_dir, str | Path) else list(run_dir)
    c = _Comparison.load(given, reference_dirs, seed)
    c.judge(alpha, margins, detect, control)
    out = _fresh_dir(Path(given[0]) / "comparison")
    (out / "comparison.json").write_text(json.dumps(c.to_json(margins), indent=2) + "\n")
    figs = c.figures(out)
    title = f"{Path(given[0]).name}{f' ({len(c.runs)} runs)' if len(c.runs) > 1 else ''}"
    write_html(out / "report.html", f"{title} vs reference", c.sections(figs))
    return out, c.result


@dataclass
class _Comparison:
    """The inputs and results of one :func:`compare_runs`."""

    runs: list
    refs: list
    warnings: list
    test_stats: list
    ref_stats: list
    scale: float | None = None
    law: str = ""
    result: dict | None = None
    cells: list = field(default_factory=list)
    alpha: float = 0.05
    control: str = ""
    prior_labels: tuple = (None, None)
    prior_note: str = ""

    @classmethod
    def load(cls, given: list, reference_dirs: list, seed: int) -> _Comparison:
        """Read the runs, refuse unfit inputs, say the validity warnings first."""
        runs = [load_run(r) for r in expand_references(given)]
        refs = [load_run(r) for r in expand_references(reference_dirs)]
        _check_inputs(runs, refs)
        if len(refs) < 2:  # benchmarks/compare_few_references.py, README
            log.warning(
                "one reference run: its seed-to-seed variance comes from the prior alone, so "
                "the verdicts see less (measured at n = k = 0.1: detectable rate change 14 %% "
                "vs 10 %% with three references); give three or more reference seeds"
            )
        warnings = [
            f"{r.path.name}: {w}"
            for r in [*runs, *refs]
            if (w := validity_warning(r.meta)) is not None
        ]
        for w in warnings:  # said before any verdict
            log.warning("%s - the verdicts below compare it as it is", w)
        return cls(runs, refs, warnings,
                   [_reference_statistics(r, seed) for r in runs],
                   [_reference_statistics(r, seed) for r in refs])  # fmt: skip

    def judge(self, alpha: float, margins, detect, control: str) -> None:
        """Distances of the first test run, and the verdict cells of all of them."""
        from . import priors
        from .verdicts import verdict_cells

        run, ref = self.runs[0], self.refs[0]
        self.alpha, self.control = alpha, control
        self.scale = correlation_rescale(run.meta, ref.meta)
        self.law = correlation_law_note(run.meta, ref.meta)
        self.result = compare(self.test_stats[0], self.ref_stats, correlation_scale=self.scale)
        test_prior, ref_prior, self.prior_note = priors.for_comparison(
            ref.populations, [r.meta for r in self.runs], ref.meta
        )
        self.prior_labels = (None if test_prior is None else test_prior["label"],
                             ref_prior["label"])  # fmt: skip
        self.cells = verdict_cells(
            self.test_stats, self.ref_stats, self.scale, alpha=alpha, margins=margins,
            distances=self.result, duration_s=run.duration_s, detect=detect, prior=ref_prior,
            control=control, test_prior=test_prior,
        )  # fmt: skip

    def to_json(self, margins) -> dict:
        from .verdicts import CONTROLS

        return {
            "run": str(self.runs[0].path),
            "tests": [str(r.path) for r in self.runs],
            "references": [str(r.path) for r in self.refs],
            "warnings": self.warnings,
            "correlation_law": self.law,
            "correlation_rescale": self.scale,
            "alpha": self.alpha,
            "control": f"{self.control} ({CONTROLS[self.control]})",
            "margins": margins or {},
            "duration_s": self.runs[0].duration_s,
            "overdispersion_prior": {
                "test": self.prior_labels[0],
                "reference": self.prior_labels[1],
                "note": self.prior_note,
            },
            "cells": self.cells,
            "distances": self.result,
        }

    def figures(self, out: Path) -> list:
        """Verdict map, distributions and distances (figures show the first test run)."""
        from .verdicts import rate_words, shown_cells

        run, n_more = self.runs[0], len(self.runs) - 1
        shown, left_out = shown_cells(self.cells)
        return [
            plot_verdict_cells(
                shown,
                out / "verdicts.png",
                f"{run.path.name}{f' and {n_more} more' if n_more else ''} vs "
                f"{len(self.refs)} reference run(s): verdicts at\n"
                f"{rate_words(self.control, self.alpha)}\ncell: difference from the "
                "references' mean; ≥: the smallest difference it would have detected "
                "(probability 0.8)",
                left_out,
            ),
            plot_distributions(
                self.test_stats[0],
                out / "distributions.png",
                self.ref_stats,
                run.duration_s,
                self.cells,
            ),  # fmt: skip
            plot_distances(self.result, out / "distances.png"),
        ]

    def sections(self, figs: list) -> list:
        """The report's (title, HTML) sections."""
        from .verdicts import CONTROLS, rate_words, variance_html_table, verdict_html_table

        run, runs, refs = self.runs[0], self.runs, self.refs
        tests = ("<p>test runs: " + ", ".join(html.escape(str(r.path)) for r in runs) + "</p>"
                 if len(runs) > 1 else "")  # fmt: skip
        ref_line = "<p>references: " + ", ".join(html.escape(str(r.path)) for r in refs)
        rescaled = f" (test x {self.scale:.3g}).</p>" if self.scale is not None else (
            "; not compared.</p>")  # fmt: skip
        return [
            ("Runs", warning_html(self.warnings) + run_line(run.meta) + tests + ref_line + "</p>"),
            (
                "Verdicts",
                f"<p>Each cell: verdict at {rate_words(self.control, self.alpha)}, "
                f"the difference from the reference mean, its {CONTROLS[self.control]}-"
                "adjusted p-value, and the smallest difference this comparison detects with "
                "probability 0.8, and the simulated time (test and references alike) a given "
                "effect needs (analysis/verdicts.py).</p>"
                + img(figs[0])
                + verdict_html_table(self.cells),
            ),
            ("Planned vs measured", planned_vs_measured(run.meta.get("plan"), self.cells)),
            (
                "Variance sources",
                f"<p>Overdispersion priors: {html.escape(self.prior_note)}. Each side's "
                "seed-to-seed variance is its runs' sampling variance times its own "
                "overdispersion phi, moderated towards its prior (analysis/priors.py).</p>"
                + variance_html_table(self.cells),
            ),
            (
                "Distribution distances",
                DISTANCE_HELP
                + f"<p>Rescaled mean correlation: {html.escape(self.law)}"
                + rescaled
                + img(figs[2])
                + f"<pre>{html.escape(distance_table(self.result))}</pre>",
            ),
            (
                "Means",
                comparison_table(
                    summary(self.test_stats[0]), [summary(r) for r in self.ref_stats]
                ),  # fmt: skip
            ),
            ("Distributions", img(figs[1])),
        ]
