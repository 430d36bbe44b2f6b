"""Figures of a downscaling sweep: each statistic against scale, one line per method, one
panel per population, with the full-scale reference band and the theory's predictions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .study import SWEEP_QUANTITIES  # noqa: E402

METHOD_STYLE = {
    "n": ("#1f77b4", "o"),
    "sqrt-k": ("#2ca02c", "s"),
    "linear-k": ("#9467bd", "^"),
    "none": ("#d62728", "v"),
    "linear-k-partial": ("#c5b0d5", "<"),
    "n@0.5": ("#17becf", "D"),
    "n@0.2": ("#8c564b", "P"),
}


def plot_quantity(
    quantity: str,
    measured: dict,
    band: dict,
    path: Path,
    theory: dict | None = None,
    law: dict | None = None,
    reference_label: str = "full-scale reference",
) -> Path:
    """One figure: ``quantity`` vs scale for each population (panels) and method (lines).

    Parameters
    ----------
    measured : dict
        ``{method: {scale: {pop: {quantity: value}}}}`` (scale 1 under every method).
    band : dict
        ``{pop: {quantity: (mean, sd)}}`` of the reference seeds; drawn as mean +- 2 sd.
    theory : dict, optional
        ``{method: {scale: {pop: value}}}`` predictions, drawn dashed in the method's colour.
    law : dict, optional
        ``{label: {scale: {pop: value}}}`` reference laws (e.g. 1/n), drawn dotted black.
    """
    pops = list(band)
    label = SWEEP_QUANTITIES[quantity]
    ncol = 4
    nrow = int(np.ceil(len(pops) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 3.1 * nrow + 0.9), squeeze=False)
    all_scales = sorted({s for m in measured.values() for s in m})
    for ax, pop in zip(axes.flat, pops):
        mean, sd = band[pop].get(quantity, (np.nan, 0.0))
        if np.isfinite(mean):
            ax.axhspan(mean - 2 * sd, mean + 2 * sd, color="0.85", zorder=0)
            ax.axhline(mean, color="0.5", lw=1, zorder=1)
        for method, by_scale in measured.items():
            color, marker = METHOD_STYLE.get(method, ("k", "x"))
            xs = sorted(by_scale)
            ys = [by_scale[s].get(pop, {}).get(quantity) for s in xs]
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None and np.isfinite(y)]
            if pts:
                ax.plot(*zip(*pts), marker=marker, color=color, label=method, lw=1.5)
            if theory and method in theory:
                tx = sorted(theory[method])
                ty = [theory[method][s].get(pop) for s in tx]
                tp = [(x, y) for x, y in zip(tx, ty) if y is not None and np.isfinite(y)]
                if tp:
                    ax.plot(*zip(*tp), ls="--", color=color, lw=1, alpha=0.8)
        for name, by_scale in (law or {}).items():
            lx = sorted(by_scale)
            ly = [by_scale[s].get(pop) for s in lx]
            ax.plot(lx, ly, ls=":", color="k", lw=1.2, label=name)
        ax.set_xscale("log")
        ax.set_xticks(all_scales, [f"{s:g}" for s in all_scales])
        ax.minorticks_off()
        ax.set_title(pop)
        ax.set_xlabel("scale (n; k = n for K-scaling methods)")
        ax.set_ylabel(label)
    for ax in list(axes.flat)[len(pops) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles.append(plt.Rectangle((0, 0), 1, 1, color="0.85"))
    labels.append(f"{reference_label}, mean ± 2 sd over seeds")
    if theory:
        handles.append(plt.Line2D([], [], ls="--", color="0.3"))
        labels.append("mean-field theory (method's colour)")
    h = fig.get_figheight()
    fig.suptitle(f"{label} vs downscaling", y=1 - 0.08 / h, va="top", fontsize=12)
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.4 / h), ncol=4, fontsize=9
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / h))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
