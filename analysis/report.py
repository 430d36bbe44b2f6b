"""Analyse a run, compare it with references, draw the figures and write a self-contained report.

Outputs go to a new folder (``RUN/analysis``, or ``analysis_2``... if that exists); the run's
own files are only read.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .compare import (  # noqa: E402
    compare,
    correlation_law_note,
    correlation_rescale,
    verdict_table,
)
from .io import Run, load_run  # noqa: E402
from .runstats import run_statistics, summary  # noqa: E402, F401 - used and re-exported
from .statistics import rate_cross_correlation  # noqa: E402

log = logging.getLogger(__name__)

COLORS = {"E": "#1f4e9c", "I": "#c0392b"}


def _fresh_dir(base: Path) -> Path:
    path = base
    k = 2
    while path.exists():
        path = base.with_name(f"{base.name}_{k}")
        k += 1
    path.mkdir(parents=True)
    return path


def _savefig(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_raster(run: Run, path: Path, window_ms: float = 300.0, max_per_pop: int = 300) -> Path:
    """Raster of ``window_ms`` after the warm-up, up to ``max_per_pop`` neurons a population."""
    fig, ax = plt.subplots(figsize=(9, 6))
    t0 = run.t_start_ms
    t1 = min(run.t_stop_ms, t0 + window_ms)
    offset = 0
    ticks = []
    for name in reversed(list(run.populations)):
        pop = run.populations[name]
        m = min(max_per_pop, pop.n_recorded)
        sel = (pop.ids < m) & (pop.times >= t0) & (pop.times < t1)
        ax.plot(
            pop.times[sel],
            pop.ids[sel] + offset,
            ".",
            ms=1.5,
            color=COLORS[name[-1]] if name[-1] in COLORS else "k",
        )
        ticks.append((offset + m / 2, name))
        offset += m + 20
    ax.set_yticks([t for t, _ in ticks], [n for _, n in ticks])
    ax.set_xlabel("time (ms)")
    ax.set_title(
        f"Spike raster, {t1 - t0:.0f} ms after warm-up (first {max_per_pop} neurons "
        "of each population)"
    )
    ax.set_xlim(t0, t1)
    return _savefig(fig, path)


def _bins(key: str, values: np.ndarray, duration_s: float | None) -> np.ndarray:
    """Histogram edges: rates on multiples of 1/T (a run of T seconds can only produce
    counts / T, so other bins show a comb); correlations over their 1-99.5 % range (the few
    most correlated pairs would otherwise squeeze the bulk into one bar; the panel's log
    density shows the positive tail); else 0.5-99.5 %."""
    q = (1, 99.5) if key == "correlations" else (0.5, 99.5)
    lo, hi = np.percentile(values, q) if values.size > 1 else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1
    if key == "rates_hz" and duration_s:
        step = 1.0 / duration_s
        width = step * max(1, int(np.ceil((hi - lo) / 40 / step)))
        start = np.floor(lo / step) * step - step / 2
        return np.arange(start, hi + width, width)
    return np.linspace(lo, hi, 60 if key == "correlations" else 40)


#: Verdict statistic shown in each column of :func:`plot_distributions`.
_PANEL_STAT = {"rates_hz": "rate", "cv_isi": "cv_isi", "correlations": "correlation"}


def plot_distributions(
    stats: dict,
    path: Path,
    refs: list[dict] | None = None,
    duration_s: float | None = None,
    cells: list[dict] | None = None,
) -> Path:
    """Histograms of rate, ISI CV and correlation per population, references overlaid; with
    ``cells`` (:func:`pynn_microcircuit.analysis.verdicts.verdict_cells`) each panel states its verdict and the
    smallest difference the comparison detects."""
    from .verdicts import format_cell

    by_cell = {(c["population"], c["statistic"]): c for c in cells or []}
    pops = list(stats)
    keys = (
        ("rates_hz", "firing rate (Hz)"),
        ("cv_isi", "ISI CV"),
        ("correlations", "pair spike-count correlation (2 ms bins)"),
    )
    titles = {
        "correlations": "pair count correlations (2 ms bins);\nverdicts on their population average"
    }
    fig, axes = plt.subplots(len(pops), 3, figsize=(11, 1.5 * len(pops) + 1), squeeze=False)
    for r, pop in enumerate(pops):
        for c, (key, label) in enumerate(keys):
            ax = axes[r, c]
            data = [stats[pop][key]] + [ref[pop][key] for ref in (refs or [])]
            allv = (
                np.concatenate([d for d in data if d.size])
                if any(d.size for d in data)
                else np.zeros(1)
            )
            bins = _bins(key, allv, duration_s)
            for k, ref in enumerate(refs or []):
                if not ref[pop][key].size:
                    continue  # an empty density histogram divides by zero
                ax.hist(
                    ref[pop][key],
                    bins=bins,
                    density=True,
                    histtype="step",
                    color="0.5",
                    label="reference" if k == 0 else None,
                )
            if not stats[pop][key].size:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.hist(
                    stats[pop][key],
                    bins=bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.6,
                    color=COLORS.get(pop[-1], "k"),
                    label="this run",
                )
            ax.xaxis.set_major_locator(plt.MaxNLocator(4))
            if key == "correlations":
                ax.set_yscale("log")
            cell = by_cell.get((pop, _PANEL_STAT[key]))
            if cell:
                ax.text(
                    0.98, 0.95, format_cell(cell).replace("; ", "\n"), ha="right", va="top",
                    fontsize=6, transform=ax.transAxes,
                    color="firebrick" if cell["verdict"] == "differs" else "0.2",
                )  # fmt: skip
            if r == 0:
                ax.set_title(titles.get(key, label), fontsize=9 if key in titles else None)
            if c == 0:
                ax.set_ylabel(f"{pop}\ndensity")
            if r == len(pops) - 1:
                ax.set_xlabel(label)
    axes[0, 0].legend(fontsize=7)
    return _savefig(fig, path)


def plot_rate_boxplot(stats: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    pops = list(stats)
    ax.boxplot(
        [stats[p]["rates_hz"] for p in pops][::-1], orientation="horizontal", showfliers=False
    )
    ax.set_yticks(range(1, len(pops) + 1), pops[::-1])
    means = [float(np.mean(stats[p]["rates_hz"])) for p in pops][::-1]
    ax.plot(means, range(1, len(pops) + 1), "D", color="firebrick", label="mean")
    ax.set_xlabel("firing rate (Hz)")
    ax.set_title("Firing rates per population (all neurons, silent ones as 0)")
    ax.legend()
    return _savefig(fig, path)


def plot_spectra(stats: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for pop, s in stats.items():
        if s["spectrum_psd"].size:
            ax.semilogy(
                s["spectrum_hz"][1:],
                s["spectrum_psd"][1:],
                label=pop,
                ls="-" if pop.endswith("E") else "--",
            )
    ax.set_xlim(0, 250)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD of population rate (Hz²/Hz)")
    ax.set_title("Population-rate power spectra (Welch)")
    ax.legend(ncol=4, fontsize=8)
    return _savefig(fig, path)


#: Readable names of the compared statistics (figures and reports).
STAT_LABELS = {
    "rates_hz": "firing rate",
    "cv_isi": "ISI CV",
    "correlations": "correlation",
    "synchrony": "synchrony",
    "spectrum": "rate spectrum",
    "correlations_rescaled": "mean corr. × n/k",
}


def cross_correlations(run: Run) -> dict:
    """Cross-correlation functions of all population-rate pairs ``(a, b)`` with a <= b (in
    the order of the run), lags +-50 ms: ``{(a, b): (lags ms, cc)}``."""
    pops = list(run.populations.values())
    out = {}
    for i, a in enumerate(pops):
        for b in pops[i:]:
            out[(a.name, b.name)] = rate_cross_correlation(
                a.times, b.times, a.n_recorded, b.n_recorded, run.t_start_ms, run.t_stop_ms
            )
    return out


def plot_cross_correlations(cc: dict, pops: list[str], path: Path) -> Path:
    """Lower triangle of population pairs: correlation of the two population rates vs lag."""
    n = len(pops)
    fig, axes = plt.subplots(n, n, figsize=(1.4 * n + 1, 1.2 * n + 1), sharex=True, sharey=True)
    for i, a in enumerate(pops):
        for j, b in enumerate(pops):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            lags, c = cc[(b, a)] if (b, a) in cc else cc[(a, b)]
            ax.axhline(0, color="0.8", lw=0.5)
            ax.plot(lags, c, lw=0.8, color="k")
            if j == 0:
                ax.set_ylabel(a, fontsize=8)
            if i == n - 1:
                ax.set_xlabel(f"{b}\nlag (ms)", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle(
        "Cross-correlation of population rates (1 ms bins; the row population leads at positive lag)"
    )
    return _savefig(fig, path)


def _cc_summary(cc: dict) -> dict:
    out = {}
    for (a, b), (lags, c) in cc.items():
        if c.size:
            k = int(np.argmax(np.abs(c)))
            out[f"{a}-{b}"] = {"peak": float(c[k]), "lag_ms": float(lags[k])}
    return out


def plot_verdicts(result: dict, path: Path, tolerance: float = 2.0) -> Path:
    """Heat-map populations x statistics of distance / spread (<= ``tolerance``: consistent)."""
    pops = list(result)
    stats_ = list(next(iter(result.values())))
    ratio = np.array(
        [[result[p][s].get("ratio") or np.nan for s in stats_] for p in pops], dtype=float
    )
    fig, ax = plt.subplots(figsize=(1.6 * len(stats_) + 2, 0.45 * len(pops) + 1.5))
    im = ax.imshow(
        np.log2(np.clip(ratio / tolerance, 1 / 8, 8)),
        cmap="RdYlGn_r",
        vmin=-3,
        vmax=3,
        aspect="auto",
    )
    for i in range(len(pops)):
        for j in range(len(stats_)):
            v = ratio[i, j]
            dark = np.isfinite(v) and abs(np.log2(v / tolerance)) > 1.8
            ax.text(
                j,
                i,
                "n/a" if np.isnan(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(len(stats_)), [STAT_LABELS.get(s, s) for s in stats_], rotation=20)
    ax.set_yticks(range(len(pops)), pops)
    cb = fig.colorbar(im, ax=ax, ticks=[-3, -2, -1, 0, 1, 2, 3])
    cb.ax.set_yticklabels([f"{tolerance * 2.0**t:g}" for t in range(-3, 4)])
    cb.set_label(f"distance / spread (≤ {tolerance:g}: consistent, green)")
    ax.set_title("This run vs the reference ensemble, per population and statistic")
    return _savefig(fig, path)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_html(path: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """A single HTML file, figures embedded as data URIs, no external resources."""
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{content}" for h, content in sections)
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}th{background:#eee}img{max-width:100%}"
        ".ok{background:#d5f5d5}.bad{background:#f8d0d0}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    return path


def _summary_table(summ: dict, meta: dict) -> str:
    cols = [
        ("mean_rate_hz", "mean rate (Hz)", ".3f"),
        ("mean_cv_isi", "mean CV", ".3f"),
        ("mean_correlation", "mean corr.", ".4f"),
        ("synchrony", "synchrony", ".2f"),
        ("spectral_peak_hz", "spectral peak (Hz)", ".1f"),
    ]
    rows = [
        "<table><tr><th>population</th><th>neurons</th>"
        + "".join(f"<th>{c[1]}</th>" for c in cols)
        + "</tr>"
    ]
    for pop, s in summ.items():
        n = meta["populations"][pop]["n_neurons"]
        cells = "".join(f"<td>{'—' if s[k] is None else format(s[k], f)}</td>" for k, _, f in cols)
        rows.append(f"<tr><th>{pop}</th><td>{n}</td>{cells}</tr>")
    return "".join(rows) + "</table>"


VERDICT_HELP = (
    "<p>Each cell divides this run's distance to the reference runs by the reference "
    "<i>spread</i>; up to 2 is <b>consistent</b>, above is <b>differs</b>. Distances: "
    "Kolmogorov-Smirnov for the distributions over neurons (rate, ISI CV) and over pairs "
    "(correlation), the absolute difference for synchrony, the mean |Δ log10 PSD| over "
    "5-250 Hz for the spectrum. The spread is the largest distance between two reference "
    "seeds, but never less than the distance sampling noise alone reaches in 5 % of cases "
    "(estimated inside each run), so that two or three reference seeds suffice. The factor 2 "
    "allows for the test being one more seed; p-values are not used, as thousands of "
    "dependent samples make every small difference 'significant'.</p>"
)


def _comparison_table(test: dict, refs: list[dict]) -> str:
    """Means of this run next to the references' mean ± standard deviation over seeds."""
    cols = [("mean_rate_hz", "rate (Hz)", ".3f"), ("mean_cv_isi", "ISI CV", ".3f")]
    cols += [("mean_correlation", "correlation", ".4f"), ("synchrony", "synchrony", ".2f")]
    rows = ["<table><tr><th>population</th>"]
    rows += [f"<th>{lab}: this run</th><th>reference</th>" for _, lab, _ in cols]
    rows.append("</tr>")
    for pop, s in test.items():
        rows.append(f"<tr><th>{pop}</th>")
        for key, _, f in cols:
            vals = np.array([r[pop][key] for r in refs if r[pop][key] is not None], float)
            ref = (
                "—"
                if vals.size == 0
                else format(vals.mean(), f)
                + ("" if vals.size < 2 else f" ± {format(vals.std(ddof=1), f)}")
            )
            rows.append(f"<td>{'—' if s[key] is None else format(s[key], f)}</td><td>{ref}</td>")
        rows.append("</tr>")
    return "".join(rows) + "</table>"


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


def _warning_html(lines: list[str]) -> str:
    return "".join(
        f'<p style="background:#f8d0d0;padding:8px;font-weight:bold">{html.escape(x)}</p>'
        for x in lines
    )


def _run_line(meta: dict) -> str:
    return (
        f"<p>platform <b>{meta.get('platform')}</b>, n = {meta.get('n_scale')}, "
        f"k = {meta.get('k_scale')}, method {meta.get('method')}, seed {meta.get('seed')}, "
        f"{meta.get('t_sim_ms')} ms analysed after {meta.get('t_presim_ms')} ms warm-up.</p>"
    )


def analyse(run_dir: str | Path, seed: int = 0) -> Path:
    """Write ``RUN/analysis/`` (stats.json, PNG figures, report.html); returns the folder."""
    run = load_run(run_dir)
    stats = run_statistics(run, seed=seed)
    out = _fresh_dir(Path(run_dir) / "analysis")
    summ = summary(stats)
    cc = cross_correlations(run)
    (out / "stats.json").write_text(
        json.dumps(
            {"run": str(run.path), "summary": summ, "rate_cross_correlation": _cc_summary(cc)},
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
            ("Run", _warning_html([warning] if warning else []) + _run_line(run.meta)),
            ("Summary", _summary_table(summ, run.meta)),
            ("Raster", _img(figs[0])),
            ("Rates", _img(figs[1])),
            ("Distributions", _img(figs[2])),
            ("Spectra", _img(figs[3])),
            ("Cross-correlations of population rates", _img(figs[4])),
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


def compare_runs(
    run_dir: str | Path,
    reference_dirs: list,
    seed: int = 0,
    alpha: float = 0.05,
    margins: dict | None = None,
    detect: dict | None = None,
) -> tuple[Path, dict]:
    """Write ``RUN/comparison/`` (JSON, heat-map, distributions, report.html).

    The verdicts are :func:`pynn_microcircuit.analysis.verdicts.verdict_cells` (family-wise ``alpha``, with
    the minimum detectable effect of each cell, equivalence within ``margins``); the
    distance ratios of :func:`pynn_microcircuit.analysis.compare.compare` are reported beside them. Returns
    the folder and the distance result."""
    from pynn_microcircuit.errors import UserError

    from .verdicts import reference_prior, verdict_cells, verdict_html_table

    run = load_run(run_dir)
    reference_dirs = expand_references(reference_dirs)
    refs = [load_run(r) for r in reference_dirs]
    for r in refs:
        if abs(r.duration_s - run.duration_s) > 1e-9:
            raise UserError(
                f"'{r.path}' analyses {r.duration_s:g} s, '{run.path}' "
                f"{run.duration_s:g} s; compare runs of equal duration (--t-sim)"
            )
        if r.meta.get("resolution_ms") != run.meta.get("resolution_ms"):
            raise UserError(
                f"'{r.path}' and '{run.path}' have different resolutions; compare "
                "runs with the same time step"
            )
        if list(r.populations) != list(run.populations):
            raise UserError(f"'{r.path}' has other populations than '{run.path}'")
    if len(refs) < 2:
        log.warning(
            "a single reference run has no seed-to-seed spread: reporting distances "
            "only; give two or more reference seeds for verdicts"
        )
    warnings = [
        f"{r.path.name}: {w}" for r in [run, *refs] if (w := validity_warning(r.meta)) is not None
    ]
    for w in warnings:  # said before any verdict
        log.warning("%s - the verdicts below compare it as it is", w)
    test_stats = run_statistics(run, seed=seed)
    ref_stats = [_reference_statistics(r, seed) for r in refs]
    scale = correlation_rescale(run.meta, refs[0].meta)
    law = correlation_law_note(run.meta, refs[0].meta)
    result = compare(test_stats, ref_stats, correlation_scale=scale)
    prior, prior_values = reference_prior(refs[0].populations, refs[0].meta)
    cells = verdict_cells(
        test_stats, ref_stats, scale, alpha=alpha, margins=margins, distances=result,
        duration_s=run.duration_s, detect=detect, prior=prior_values,
    )  # fmt: skip
    out = _fresh_dir(Path(run_dir) / "comparison")
    (out / "comparison.json").write_text(
        json.dumps(
            {
                "run": str(run.path),
                "references": [str(r.path) for r in refs],
                "warnings": warnings,
                "correlation_law": law,
                "correlation_rescale": scale,
                "alpha": alpha,
                "margins": margins or {},
                "duration_s": run.duration_s,
                "overdispersion_prior": prior,
                "cells": cells,
                "distances": result,
            },
            indent=2,
        )
        + "\n"
    )
    figs = [
        plot_verdicts(result, out / "verdicts.png"),
        plot_distributions(test_stats, out / "distributions.png", ref_stats, run.duration_s, cells),
    ]
    write_html(
        out / "report.html",
        f"{run.path.name} vs reference",
        [
            (
                "Runs",
                _warning_html(warnings)
                + _run_line(run.meta)
                + "<p>references: "
                + ", ".join(html.escape(str(r.path)) for r in refs)
                + "</p>",
            ),
            (
                "Verdicts",
                f"<p>Each cell: verdict at a family-wise false-alarm rate of {alpha:g} (Holm), "
                "the difference from the reference mean, its Holm-adjusted p-value, and the "
                "smallest difference this comparison detects with probability 0.8, and the "
                "simulated time (test and references alike) a given effect needs "
                "(analysis/verdicts.py).</p>" + verdict_html_table(cells),
            ),
            (
                "Distances",
                VERDICT_HELP
                + f"<p>Rescaled mean correlation: {html.escape(law)}"
                + (f" (test x {scale:.3g}).</p>" if scale is not None else "; not compared.</p>")
                + _img(figs[0])
                + f"<pre>{html.escape(verdict_table(result))}</pre>",
            ),
            (
                "Means",
                _comparison_table(summary(test_stats), [summary(r) for r in ref_stats]),
            ),
            ("Distributions", _img(figs[1])),
        ],
    )
    return out, result
