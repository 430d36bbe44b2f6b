"""The figures of the run and comparison reports (matplotlib, Agg backend): raster, rate box
plots, distributions with the verdicts, spectra, population-rate cross-correlations, the
verdict map and the distance matrix. Each function writes one PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import Run  # noqa: E402

COLORS = {"E": "#1f4e9c", "I": "#c0392b"}


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
    "correlations_rescaled": "avg. corr. × law",
}


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


#: Fill colours of the verdict map, by verdict.
VERDICT_COLOURS = {
    "differs": "#d73027",
    "consistent": "#a6d96a",
    "equivalent": "#1a9850",
    "no data": "#d9d9d9",
}


def _cell_label(c: dict) -> str:
    """Two short lines for a verdict-map cell: the difference, then the smallest detectable."""
    eff, mde = c.get("effect_size"), c.get("min_detectable_effect")
    if c["verdict"] == "no data" or eff is None or mde is None:
        return c["verdict"] if c["verdict"] != "differs" else "differs\n(one side only)"
    if c.get("mde_units") == "relative":
        return f"{100 * eff:+.0f} %\n≥ {100 * mde:.0f} %"
    return f"{eff:+.2g}\n≥ {mde:.2g}"


def plot_verdict_cells(cells: list[dict], path: Path, title: str, note: str | None = None) -> Path:
    """Populations x statistics, each cell coloured by its calibrated verdict
    (:func:`pynn_microcircuit.analysis.verdicts.verdict_cells`) and labelled with the
    difference from the references' mean and, below it, the smallest difference the cell
    would have detected (probability 0.8)."""
    from matplotlib.colors import ListedColormap

    pops = list(dict.fromkeys(c["population"] for c in cells))
    stats_ = list(dict.fromkeys(c["statistic"] for c in cells))
    by = {(c["population"], c["statistic"]): c for c in cells}
    kinds = list(VERDICT_COLOURS)
    code = np.array(
        [[kinds.index(by[p, s]["verdict"]) if (p, s) in by else 3 for s in stats_] for p in pops]
    )
    fig, ax = plt.subplots(figsize=(1.7 * len(stats_) + 1.5, 0.55 * len(pops) + 1.6))
    ax.imshow(code, cmap=ListedColormap(list(VERDICT_COLOURS.values())), vmin=0,
              vmax=len(kinds) - 1, aspect="auto")  # fmt: skip
    for i, p in enumerate(pops):
        for j, s in enumerate(stats_):
            c = by.get((p, s))
            if c is not None:
                white = c["verdict"] in ("differs", "equivalent")
                ax.text(j, i, _cell_label(c), ha="center", va="center", fontsize=7.5,
                        color="white" if white else "black")  # fmt: skip
    labels = {"rate": "firing rate", "cv_isi": "ISI CV", "correlation": "mean correlation",
              "correlation_rescaled": "mean corr. × law", "synchrony": "synchrony",
              "synchrony_rescaled": "synchrony × law"}  # fmt: skip
    ax.set_xticks(range(len(stats_)), [labels.get(s, s) for s in stats_])
    ax.set_yticks(range(len(pops)), pops)
    ax.set_xticks(np.arange(len(stats_) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(pops) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="minor", length=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=VERDICT_COLOURS[k]) for k in kinds]
    ax.legend(handles, kinds, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4,
              frameon=False, fontsize=8)  # fmt: skip
    ax.set_title(title, fontsize=9)
    if note:
        fig.text(0.01, 0.005, note, fontsize=7, va="bottom")
    return _savefig(fig, path)


def plot_distances(result: dict, path: Path, tolerance: float = 2.0) -> Path:
    """Heat-map populations x statistics of distribution distance / seed-to-seed spread
    (:func:`pynn_microcircuit.analysis.compare.compare`): descriptive, not a test; one
    colour scale (darker: farther), centred on ``tolerance``."""
    pops = list(result)
    stats_ = list(next(iter(result.values())))
    ratio = np.array(
        [[result[p][s].get("ratio") or np.nan for s in stats_] for p in pops], dtype=float
    )
    fig, ax = plt.subplots(figsize=(1.6 * len(stats_) + 2, 0.45 * len(pops) + 1.5))
    im = ax.imshow(
        np.log2(np.clip(ratio / tolerance, 1 / 8, 8)),
        cmap="YlOrBr",
        vmin=-3,
        vmax=3,
        aspect="auto",
    )
    for i in range(len(pops)):
        for j in range(len(stats_)):
            v = ratio[i, j]
            dark = np.isfinite(v) and np.log2(v / tolerance) > 1.5
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
    cb.set_label("distance / seed-to-seed spread")
    ax.set_title(
        "Distribution distances to the references, in units of their seed-to-seed spread\n"
        "(descriptive, no error rate: the verdicts are in verdicts.png)",
        fontsize=9,
    )
    return _savefig(fig, path)
