"""Statistics of study runs, computed once and cached; reference spread; sweep results.

A run's statistics (:func:`pynn_microcircuit.analysis.report.run_statistics`) are stored as a NumPy ``.npz``
(no pickle) in the study's own ``stats/`` folder, never inside the run directory, and reused
on every later comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .compare import compare, correlation_rescale
from .io import load_run
from .runstats import run_statistics, summary

SEP = "|"
#: Bumped whenever the statistics change, so older caches are recomputed, not reused.
STATS_VERSION = 7


def _flatten(stats: dict) -> dict:
    flat = {}
    for pop, s in stats.items():
        for key, v in s.items():
            if key == "noise":
                for nk, nv in v.items():
                    flat[SEP.join((pop, "noise", nk))] = np.asarray(nv, dtype=float)
            else:
                flat[SEP.join((pop, key))] = np.asarray(v, dtype=float)
    return flat


def _unflatten(flat, skip=()) -> dict:
    stats: dict = {}
    for name in flat.files:
        if name in skip:
            continue
        parts = name.split(SEP)
        v = flat[name]
        v = float(v) if v.ndim == 0 else np.array(v)
        pop = stats.setdefault(parts[0], {})
        if parts[1] == "noise":
            pop.setdefault("noise", {})[parts[2]] = v
        else:
            pop[parts[1]] = v
    return stats


def cached_statistics(run_dir: str | Path, cache_file: str | Path, seed: int = 0) -> dict:
    """Statistics of ``run_dir``, from ``cache_file`` if present, else computed and cached."""
    cache_file = Path(cache_file)
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as f:
            if "__version__" in f.files and int(f["__version__"]) == STATS_VERSION:
                return _unflatten(f, skip=("__version__",))
    stats = run_statistics(load_run(run_dir), seed=seed)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(cache_file.name + ".part")
    with open(tmp, "wb") as fh:
        np.savez(fh, __version__=np.asarray(STATS_VERSION), **_flatten(stats))
    os.replace(tmp, cache_file)
    return stats


def study_statistics(run_dir: str | Path) -> dict:
    """:func:`cached_statistics` of a run inside a reference or sweep directory, cached in
    that directory's ``stats/<run name>.npz``."""
    run_dir = Path(run_dir)
    return cached_statistics(run_dir, run_dir.parent / "stats" / f"{run_dir.name}.npz")


#: Scalar summaries drawn against scale, with axis labels (units).
SWEEP_QUANTITIES = {
    "mean_rate_hz": "mean rate (Hz)",
    "mean_cv_isi": "mean ISI CV",
    "mean_correlation": "mean count correlation",
    "mean_correlation_x_n": "mean correlation × n (1/n law, W-keeping methods)",
    "synchrony": "synchrony (var/mean, 1 ms)",
    "spectral_peak_hz": "dominant spectral peak (Hz)",
}


def scalar_summary(stats: dict, n_scale: float, k_scale: float = 1.0, method: str = "n") -> dict:
    """Per-population scalars of :data:`SWEEP_QUANTITIES`; the mean correlation also times
    n, the inverse of its expected 1/n growth where the method keeps W = K J
    (:func:`pynn_microcircuit.theory.correlation_law`), so that a run following the law
    matches the full-scale value; None where the method changes W (no law)."""
    from pynn_microcircuit.theory import correlation_law, w_ratio

    factor, _ = correlation_law(n_scale, w_ratio(method, k_scale), 1.0, 1.0)
    out = {}
    for pop, s in summary(stats).items():
        row = {k: s.get(k) for k in SWEEP_QUANTITIES if k in s}
        mc = s.get("mean_correlation")
        row["mean_correlation_x_n"] = None if mc is None or factor is None else mc / factor
        out[pop] = row
    return out


def reference_band(summaries: list[dict]) -> dict:
    """``{pop: {quantity: (mean, sd)}}`` over reference seeds (sd with ddof=1; 0 for one)."""
    band: dict = {}
    for pop in summaries[0]:
        band[pop] = {}
        for q in SWEEP_QUANTITIES:
            vals = np.array([s[pop][q] for s in summaries if s[pop].get(q) is not None], float)
            if vals.size:
                sd = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
                band[pop][q] = (float(vals.mean()), sd)
    return band


def compare_with_reference(test_stats, ref_stats: list[dict], test_meta, ref_meta):
    """The comparison of ``run.py compare`` for a sweep cell: ``{"distances": ...,
    "cells": ...}`` (:func:`pynn_microcircuit.analysis.compare.compare` of the first test run
    and the calibrated :func:`pynn_microcircuit.analysis.verdicts.verdict_cells`, each side
    with its own prior, :func:`pynn_microcircuit.analysis.priors.for_comparison`), the mean
    correlation rescaled by the correlation law
    (:func:`pynn_microcircuit.analysis.compare.correlation_rescale`). ``test_stats`` and
    ``test_meta``: one run's, or lists of an ensemble's."""
    from .priors import for_comparison
    from .verdicts import verdict_cells

    tests = [test_stats] if isinstance(test_stats, dict) else list(test_stats)
    metas = [test_meta] if isinstance(test_meta, dict) else list(test_meta)
    scale = correlation_rescale(metas[0], ref_meta)
    distances = compare(tests[0], ref_stats, correlation_scale=scale)
    test_prior, prior, _ = for_comparison(list(ref_stats[0]), metas, ref_meta)
    cells = verdict_cells(
        tests, ref_stats, scale, distances=distances, prior=prior, test_prior=test_prior
    )
    return {"distances": distances, "cells": cells}


#: Sweep table rows: the calibrated statistic behind each (None: the distance rule).
KEPT_STATS = {
    "rates_hz": "rate",
    "cv_isi": "cv_isi",
    "correlations": "correlation",
    "correlations_rescaled": "correlation_rescaled",
    "synchrony": "synchrony",
    "spectrum": None,
}


def kept_table(comparisons: dict) -> dict:
    """``{method: {scale: {stat: (kept, worst, n_one_sided)}}}`` from
    ``{(method, scale): compare_with_reference(...)}``.

    A statistic is kept at a scale when no population's calibrated verdict is ``differs``
    (family-wise over the cell's table, as in ``run.py compare``); ``worst`` is the largest
    absolute effect size over populations (relative, or absolute for the ISI CV);
    ``n_one_sided`` counts populations where the statistic exists on one side only (e.g. a
    silent population). The spectrum has no calibrated test: kept when every population's
    distance is within 2x the reference spread, ``worst`` the largest distance ratio."""
    out: dict = {}
    for (method, scale), comp in comparisons.items():
        row = {}
        for key, stat in KEPT_STATS.items():
            if stat is None:
                cells = [c[key] for c in comp["distances"].values() if key in c]
                judged = [c for c in cells if c["verdict"] in ("consistent", "differs")]
                finite = [float(c["ratio"]) for c in judged if np.isfinite(c["ratio"])]
            else:
                cells = [c for c in comp["cells"] if c["statistic"] == stat]
                judged = [c for c in cells if c["verdict"] != "no data"]
                finite = [abs(c["effect_size"]) for c in judged if "effect_size" in c]
            if judged:
                row[key] = (
                    all(c["verdict"] != "differs" for c in judged),
                    max(finite) if finite else None,
                    len(judged) - len(finite),
                )
        out.setdefault(method, {})[scale] = row
    return out
