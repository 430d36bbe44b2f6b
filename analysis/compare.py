"""Compare a test run with a reference ensemble (DESIGN section 5).

For each population and statistic: the Kolmogorov-Smirnov distance (and the Wasserstein
distance) between the test run's distribution and each reference run's; the reference
ensemble's own seed-to-seed distances give the natural spread. A cell is ``consistent`` when
the test's mean distance to the references does not exceed the largest distance between two
reference seeds (times ``tolerance``), else ``differs`` with the ratio to that spread.
p-values are not the criterion: pairwise statistics have 10^4-10^5 dependent samples.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

#: Distribution-valued statistics compared by KS / Wasserstein distance.
DIST_STATS = ("rates_hz", "cv_isi", "correlations")
#: Scalar statistics compared by their absolute difference.
SCALAR_STATS = ("synchrony",)
#: Spectra compared by the mean absolute difference of log10 PSD over 5-250 Hz (the argmax of
#: a flat, noisy spectrum is not a stable statistic, the whole shape is).
SPECTRUM_BAND_HZ = (5.0, 250.0)


def ks_distance(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(stats.ks_2samp(a, b).statistic)


def wasserstein(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(stats.wasserstein_distance(a, b))


def spectrum_distance(a, b) -> float:
    """Mean |log10 PSD_a - log10 PSD_b| over SPECTRUM_BAND_HZ (decades); a, b = (freqs, psd)."""
    (fa, pa), (fb, pb) = a, b
    if pa.size == 0 or pb.size == 0 or fa.shape != fb.shape:
        return float("nan")
    band = (fa >= SPECTRUM_BAND_HZ[0]) & (fa <= SPECTRUM_BAND_HZ[1])
    tiny = 1e-30
    return float(np.mean(np.abs(np.log10(pa[band] + tiny) - np.log10(pb[band] + tiny))))


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
        :func:`analysis.statistics.population_statistics`).
    references : list of dict
        The same for each reference run (different seeds).
    tolerance : float
        A test is consistent while its distance is within ``tolerance`` x the spread.
    correlation_scale : float, optional
        Multiply the test's correlations by this before comparing (``n_test / n_reference``
        for N-scaled runs: correlations grow ~1/n, DESIGN 3a); reported as the extra
        statistic ``correlations_rescaled``.

    Returns
    -------
    dict
        ``{population: {statistic: {"distance", "wasserstein", "spread", "verdict",
        "ratio"}}}``; with a single reference, ``spread`` is None and ``verdict`` is
        ``"no-spread"``.
    """
    out = {}
    for pop, tstats in test.items():
        row = {}
        stat_names = [*DIST_STATS, *SCALAR_STATS, "spectrum"]
        if correlation_scale is not None:
            stat_names.append("correlations_rescaled")
        for stat in stat_names:
            src = "correlations" if stat == "correlations_rescaled" else stat
            tval = _value(tstats, src)
            if stat == "correlations_rescaled":
                tval = np.asarray(tval) * correlation_scale
            refs = [_value(r[pop], src) for r in references]
            d = [_dist(stat, tval, r) for r in refs]
            w = (
                [wasserstein(tval, r) for r in refs]
                if stat in DIST_STATS + ("correlations_rescaled",)
                else d
            )
            pair = [_dist(stat, a, b) for a, b in itertools.combinations(refs, 2)]
            dist = float(np.nanmean(d)) if d else float("nan")
            cell = {"distance": dist, "wasserstein": float(np.nanmean(w)) if w else None}
            if pair:
                spread = float(np.nanmax(pair))
                cell["spread"] = spread
                ratio = dist / spread if spread > 0 else (0.0 if dist == 0 else float("inf"))
                cell["ratio"] = ratio
                cell["verdict"] = "consistent" if ratio <= tolerance else "differs"
            else:
                cell.update(spread=None, ratio=None, verdict="no-spread")
            row[stat] = cell
        out[pop] = row
    return out


def verdict_table(result: dict) -> str:
    """Plain-text table: populations x statistics, 'ok (ratio)' or 'differs xN.N'."""
    stats_ = list(next(iter(result.values())).keys())
    head = f"{'population':<10}" + "".join(f"{s[:14]:>16}" for s in stats_)
    lines = [head]
    for pop, row in result.items():
        cells = []
        for s in stats_:
            c = row[s]
            if c["verdict"] == "consistent":
                cells.append(f"ok ({c['ratio']:.2f})")
            elif c["verdict"] == "differs":
                cells.append(f"differs x{c['ratio']:.1f}")
            else:
                cells.append(f"D={c['distance']:.3f}")
        lines.append(f"{pop:<10}" + "".join(f"{x:>16}" for x in cells))
    return "\n".join(lines)
