"""Compare a test run with a reference ensemble (distances against the seed-to-seed spread).

For each population and statistic: the Kolmogorov-Smirnov distance (and the Wasserstein
distance) between the test run's distribution and each reference run's; the reference
ensemble's own seed-to-seed distances give the natural spread. A cell is ``consistent`` when
the test's mean distance to the references does not exceed the spread (times ``tolerance``),
else ``differs`` with the ratio to that spread. p-values are not the criterion: pairwise
statistics have 10^4-10^5 dependent samples. These labels are a description with no measured
error rate; what a comparison decides are the calibrated verdicts of
:mod:`pynn_microcircuit.analysis.verdicts` (``cells`` in comparison.json, ``verdicts.png``),
which the report shows as the verdicts, these distances beside them (``distances.png``).

The spread is the largest distance between two reference seeds. With few seeds (two give one
pair) that maximum is itself a single noisy draw -- at n = k = 0.1 one L23E rate pair was 0.4x
the sampling noise -- so it is floored at the distance that sampling noise alone exceeds with
5 % probability between two independent runs, estimated inside each run
(:func:`pynn_microcircuit.analysis.statistics.split_half_ks`, :func:`pynn_microcircuit.analysis.statistics.synchrony_sem`):

* KS statistics: ``KS95_OVER_MEAN`` x the expected noise distance. For Kolmogorov's limit law
  the 95 % point is 1.358 and the mean sqrt(pi/2) ln 2 = 0.8687, ratio 1.563.
* synchrony and the rescaled population-averaged correlation: 1.96 x the standard deviation of the
  difference of two runs, ``sqrt(sem_test^2 + sem_ref^2)``.
* spectra: no floor; their distance averages |d log10 PSD| over ~120 frequency bins, so a single
  seed pair already estimates it stably (measured ratios 0.9-1.2 across seeds).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from .statistics import SPECTRUM_BAND_HZ, ks_distance

#: Distribution-valued statistics compared by KS / Wasserstein distance.
DIST_STATS = ("rates_hz", "cv_isi", "correlations")
#: Scalar statistics compared by their absolute difference (``correlations_rescaled``: the
#: population-averaged correlation times n_test / n_ref, see :func:`compare`).
SCALAR_STATS = ("synchrony", "correlations_rescaled")
# Spectra are compared by the mean absolute difference of log10 PSD over SPECTRUM_BAND_HZ
# (the argmax of a flat, noisy spectrum is not a stable statistic, the whole shape is).
#: 95 % point / mean of the Kolmogorov distribution (1.3581 / 0.8687).
KS95_OVER_MEAN = 1.3581 / (np.sqrt(np.pi / 2) * np.log(2))
#: Two-sided 95 % point of the standard normal distribution.
Z95 = 1.96


def wasserstein(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(stats.wasserstein_distance(a, b))


def spectrum_distance(a, b) -> float:
    """Mean |log10 S_a - log10 S_b| over SPECTRUM_BAND_HZ (decades) of the spectra's *shapes*
    ``S = PSD / mean(PSD in band)``; a, b = (freqs, psd).

    The level of a population-rate spectrum (rate per neuron) carries the 1/N of averaging
    N neurons (the shot-noise floor is nu / N for independent spiking), so identical
    dynamics at n = 0.1 and full scale differ x10 in level; the shape (where the power
    lies: oscillation peaks, low-frequency content) does not."""
    (fa, pa), (fb, pb) = a, b
    if pa.size == 0 or pb.size == 0 or fa.shape != fb.shape:
        return float("nan")
    band = (fa >= SPECTRUM_BAND_HZ[0]) & (fa <= SPECTRUM_BAND_HZ[1])
    tiny = 1e-30
    sa, sb = pa[band] / (pa[band].mean() + tiny), pb[band] / (pb[band].mean() + tiny)
    return float(np.mean(np.abs(np.log10(sa + tiny) - np.log10(sb + tiny))))


def _value(stats_: dict, stat: str):
    if stat == "spectrum":
        return (np.asarray(stats_["spectrum_hz"]), np.asarray(stats_["spectrum_psd"]))
    return stats_[stat]


def _dist(stat: str, a, b) -> float:
    if stat in SCALAR_STATS:
        return float(abs(a - b))
    if stat == "spectrum":
        return spectrum_distance(a, b)
    return ks_distance(a, b)


def noise_floor(stat: str, test: dict, refs: list[dict], scale: float = 1.0) -> float:
    """Distance that sampling noise alone exceeds with 5 % probability (see module docstring);
    0 where no estimate exists. ``test`` and ``refs`` are one population's statistics;
    ``scale`` multiplies the test's value (the rescaled mean correlation)."""
    if stat in DIST_STATS:
        vals = [r.get("noise", {}).get(stat, np.nan) for r in refs]
        vals = np.asarray(vals, dtype=float)
        return float(KS95_OVER_MEAN * np.nanmean(vals)) if np.isfinite(vals).any() else 0.0
    sem_key = {"synchrony": "synchrony_sem", "correlations_rescaled": "pooled_correlation_sem"}
    if stat in sem_key:
        key = sem_key[stat]
        factor = scale if stat == "correlations_rescaled" else 1.0
        sem_t = factor * test.get("noise", {}).get(key, np.nan)
        sem_r = np.asarray([r.get("noise", {}).get(key, np.nan) for r in refs])
        if not np.isfinite(sem_t) or not np.isfinite(sem_r).any():
            return 0.0
        return float(Z95 * np.sqrt(sem_t**2 + np.nanmean(sem_r**2)))
    return 0.0


def correlation_rescale(test_meta: dict, ref_meta: dict) -> float | None:
    """Factor for the test's mean correlation before comparing it with the reference's: the
    inverse of the expected ratio of :func:`pynn_microcircuit.theory.correlation_law`,
    ``n_test / n_ref`` between runs with the same effective connectivity W = K J (1 at the
    same n), None where W differs (no law; see :func:`correlation_law_note`)."""
    factor, _ = _law(test_meta, ref_meta)
    return None if factor is None else 1.0 / factor


def correlation_law_note(test_meta: dict, ref_meta: dict) -> str:
    """One line saying which correlation law the comparison applied, or why none."""
    return _law(test_meta, ref_meta)[1]


def _law(test_meta: dict, ref_meta: dict):
    from pynn_microcircuit.theory import correlation_law, w_ratio

    def nw(meta):
        k = float(meta.get("k_scale", 1.0))
        method = meta.get("method") or ("n" if k == 1.0 else "sqrt-k")
        return float(meta.get("n_scale", 1.0)), w_ratio(method, k)

    return correlation_law(*nw(test_meta), *nw(ref_meta))


def _nanmean(values) -> float:
    vals = np.asarray(values, dtype=float)
    return float(vals[np.isfinite(vals)].mean()) if np.isfinite(vals).any() else float("nan")


def _empty(value) -> bool:
    if isinstance(value, tuple):  # spectrum (freqs, psd)
        return value[1].size == 0 or not np.any(value[1] > 0)
    if np.ndim(value) == 0:
        return not np.isfinite(value)
    return np.asarray(value).size == 0


def compare(
    test: dict,
    references: list[dict],
    tolerance: float = 2.0,
    correlation_scale: float | None = None,
) -> dict:
    """Verdicts per population and statistic.

    Parameters
    ----------
    test : dict
        ``{population: {statistic: values}}`` of the test run (from
        :func:`pynn_microcircuit.analysis.statistics.population_statistics`).
    references : list of dict
        The same for each reference run (different seeds).
    tolerance : float
        A test is consistent while its distance is within ``tolerance`` x the spread.
    correlation_scale : float, optional
        Multiply the mean of the test's correlations by this before comparing
        (``n_test / n_reference`` for N-scaled runs: correlations grow ~1/n, van Albada et al. 2015; see
        :func:`rescale_correlations`); reported as the extra statistic
        ``correlations_rescaled``.

    Returns
    -------
    dict
        ``{population: {statistic: {"distance", "wasserstein", "spread", "seed_spread",
        "noise_floor", "verdict", "ratio"}}}``; ``spread = max(seed_spread, noise_floor)``.
        With a single reference, ``spread`` is None and ``verdict`` is ``"no-spread"``.
    """
    out = {}
    for pop, tstats in test.items():
        row = {}
        stat_names = [*DIST_STATS, "synchrony", "spectrum"]
        if correlation_scale is not None:
            stat_names.append("correlations_rescaled")
        for stat in stat_names:
            ref_pops = [r[pop] for r in references]
            if stat == "correlations_rescaled":
                tval = correlation_scale * tstats.get("pooled_correlation", np.nan)
                refs = [r.get("pooled_correlation", np.nan) for r in ref_pops]
            else:
                tval = _value(tstats, stat)
                refs = [_value(r, stat) for r in ref_pops]
            d = [_dist(stat, tval, r) for r in refs]
            w = [wasserstein(tval, r) for r in refs] if stat in DIST_STATS else d
            pair = [_dist(stat, a, b) for a, b in itertools.combinations(refs, 2)]
            dist, wdist = _nanmean(d), _nanmean(w)
            cell = {"distance": dist, "wasserstein": None if np.isnan(wdist) else wdist}
            t_empty, r_empty = _empty(tval), all(_empty(r) for r in refs)
            if t_empty or r_empty:
                # a statistic that exists on one side only (e.g. no neuron with two ISIs in a
                # silent test run) is a difference; on neither side there is nothing to judge
                both = t_empty and r_empty
                cell.update(
                    spread=None,
                    ratio=None if both else float("inf"),
                    verdict="no-data" if both else "differs",
                )
            elif pair:
                floor = noise_floor(stat, tstats, ref_pops, correlation_scale or 1.0)
                seed_spread = float(np.nanmax(pair)) if np.isfinite(pair).any() else 0.0
                spread = max(seed_spread, floor)
                cell.update(spread=spread, seed_spread=seed_spread, noise_floor=floor)
                ratio = dist / spread if spread > 0 else (0.0 if dist == 0 else float("inf"))
                cell["ratio"] = ratio
                cell["verdict"] = "consistent" if ratio <= tolerance else "differs"
            else:
                cell.update(spread=None, ratio=None, verdict="no-spread")
            row[stat] = cell
        out[pop] = row
    return out


def distance_table(result: dict) -> str:
    """Plain-text table: populations x statistics, distance / spread ('one side' where the
    statistic exists in one run only, 'D=...' without a spread)."""
    stats_ = list(next(iter(result.values())).keys())
    head = f"{'population':<10}" + "".join(f"{s[:14]:>16}" for s in stats_)
    lines = [head]
    for pop, row in result.items():
        cells = []
        for s in stats_:
            c = row[s]
            if c.get("ratio") is not None and np.isfinite(c["ratio"]):
                cells.append(f"{c['ratio']:.2f}")
            elif c["verdict"] == "differs":
                cells.append("one side")
            elif c["verdict"] == "no-data":
                cells.append("no data")
            else:
                cells.append(f"D={c['distance']:.3f}")
        lines.append(f"{pop:<10}" + "".join(f"{x:>16}" for x in cells))
    return "\n".join(lines)
