"""Statistics of a whole run (every population) and their JSON-friendly summary.

Shared by the single-run report (:mod:`pynn_microcircuit.analysis.report`) and the studies
(:mod:`pynn_microcircuit.analysis.study`), which is why it is a module of its own.
"""

from __future__ import annotations

import numpy as np

from .io import Run
from .statistics import population_statistics, rate_cross_correlation


def run_statistics(run: Run, seed: int = 0) -> dict:
    """Statistics of every population of ``run`` (see :mod:`pynn_microcircuit.analysis.statistics`)."""
    return {
        name: population_statistics(pop, run.t_start_ms, run.t_stop_ms, seed=seed + i)
        for i, (name, pop) in enumerate(run.populations.items())
    }


def summary(stats: dict) -> dict:
    """JSON-friendly summary: means, medians and counts per population and statistic."""
    out = {}
    for pop, s in stats.items():
        out[pop] = {
            "mean_rate_hz": float(np.mean(s["rates_hz"])) if s["rates_hz"].size else None,
            "median_rate_hz": float(np.median(s["rates_hz"])) if s["rates_hz"].size else None,
            "mean_cv_isi": float(np.mean(s["cv_isi"])) if s["cv_isi"].size else None,
            "n_cv": int(s["cv_isi"].size),
            "mean_correlation": float(np.mean(s["correlations"]))
            if s["correlations"].size
            else None,
            "n_pairs": int(s["correlations"].size),
            "pooled_correlation": s.get("pooled_correlation"),
            "synchrony": s["synchrony"],
            "spectral_peak_hz": s["spectral_peak_hz"],
        }
    return out


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


def cc_summary(cc: dict) -> dict:
    out = {}
    for (a, b), (lags, c) in cc.items():
        if c.size:
            k = int(np.argmax(np.abs(c)))
            out[f"{a}-{b}"] = {"peak": float(c[k]), "lag_ms": float(lags[k])}
    return out
