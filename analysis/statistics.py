"""Spiking statistics per population (DESIGN section 5), on flat (id, time) arrays.

Rates and ISI CVs are computed on arrays for every neuron; pairwise correlations build Neo
spike trains only for the sampled neurons and use Elephant; the population-rate spectrum uses
Elephant's Welch estimator. No simulator import.

Units: times in ms, rates in Hz.
"""

from __future__ import annotations

import numpy as np

#: Defaults of the accepted validation recipe (DESIGN section 5).
CORR_BIN_MS = 2.0
CORR_SAMPLE = 200
SYNC_BIN_MS = 1.0
SYNC_SAMPLE = 1000
RATE_BIN_MS = 1.0


def firing_rates(ids, times, n_neurons: int, t0: float, t1: float) -> np.ndarray:
    """Rate (Hz) of every neuron ``0..n_neurons-1`` in ``[t0, t1)`` ms; silent neurons give 0."""
    ids = np.asarray(ids, dtype=np.int64)
    sel = (np.asarray(times) >= t0) & (np.asarray(times) < t1)
    counts = np.bincount(ids[sel], minlength=n_neurons)[:n_neurons]
    return counts / ((t1 - t0) * 1e-3)


def cv_isi(ids, times) -> np.ndarray:
    """Coefficient of variation of inter-spike intervals, one value per neuron with >= 2 ISIs.

    ``CV = std(ISI) / mean(ISI)`` (population standard deviation, as ``elephant.statistics.cv``).
    """
    ids = np.asarray(ids, dtype=np.int64)
    times = np.asarray(times, dtype=float)
    if ids.size < 3:
        return np.zeros(0)
    order = np.lexsort((times, ids))
    i, t = ids[order], times[order]
    same = i[1:] == i[:-1]
    isi = np.diff(t)[same]
    owner = i[1:][same]
    uniq, inv, counts = np.unique(owner, return_inverse=True, return_counts=True)
    s1 = np.bincount(inv, weights=isi)
    s2 = np.bincount(inv, weights=isi**2)
    mean = s1 / counts
    var = np.maximum(s2 / counts - mean**2, 0.0)
    ok = counts >= 2
    return np.sqrt(var[ok]) / mean[ok]


def sample_spiking(ids, n_sample: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n_sample`` distinct neurons that spiked at least once, chosen with ``rng``."""
    active = np.unique(np.asarray(ids, dtype=np.int64))
    if active.size <= n_sample:
        return active
    return np.sort(rng.choice(active, n_sample, replace=False))


def correlation_coefficients(
    ids,
    times,
    t0: float,
    t1: float,
    n_sample: int = CORR_SAMPLE,
    bin_ms: float = CORR_BIN_MS,
    seed: int = 0,
) -> np.ndarray:
    """Pearson correlation of spike counts (``bin_ms`` bins) for ``n_sample`` spiking neurons.

    Uses ``elephant.conversion.BinnedSpikeTrain`` and
    ``elephant.spike_train_correlation.correlation_coefficient``; returns the upper triangle
    (i < j), one value per pair.
    """
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient

    chosen = sample_spiking(ids, n_sample, np.random.default_rng(seed))
    if chosen.size < 2:
        return np.zeros(0)
    trains = spike_trains(ids, times, chosen, t0, t1)
    binned = BinnedSpikeTrain(
        trains, bin_size=bin_ms * pq.ms, t_start=t0 * pq.ms, t_stop=t1 * pq.ms
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = correlation_coefficient(binned, fast=True)
    iu = np.triu_indices(len(trains), k=1)
    vals = cc[iu]
    return vals[np.isfinite(vals)]


def spike_trains(ids, times, node_ids, t0: float, t1: float) -> list:
    """One ``neo.SpikeTrain`` (ms, ``[t0, t1)``) per entry of ``node_ids``, from flat arrays."""
    import neo
    import quantities as pq

    ids = np.asarray(ids, dtype=np.int64)
    times = np.asarray(times, dtype=float)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    trains = []
    for nid in np.asarray(node_ids, dtype=np.int64):
        lo, hi = np.searchsorted(sorted_ids, [nid, nid + 1])
        t = np.sort(times[order[lo:hi]])
        t = t[(t >= t0) & (t < t1)]
        trains.append(neo.SpikeTrain(t * pq.ms, t_start=t0 * pq.ms, t_stop=t1 * pq.ms))
    return trains


def population_counts(times, t0: float, t1: float, bin_ms: float) -> np.ndarray:
    """Spike count of the whole population per ``bin_ms`` bin in ``[t0, t1)``."""
    edges = np.arange(t0, t1 + 1e-9, bin_ms)
    return np.histogram(times, bins=edges)[0]


def synchrony(
    ids,
    times,
    n_recorded: int,
    t0: float,
    t1: float,
    n_sample: int = SYNC_SAMPLE,
    bin_ms: float = SYNC_BIN_MS,
) -> float:
    """Variance / mean of the population spike count (``bin_ms`` bins) of a fixed-size subsample.

    The subsample is the first ``min(n_sample, n_recorded)`` neurons (a fixed size keeps the
    measure comparable across scales). Poisson-like asynchronous activity gives ~1.
    """
    ids = np.asarray(ids)
    m = min(n_sample, n_recorded)
    counts = population_counts(np.asarray(times)[ids < m], t0, t1, bin_ms)
    mean = counts.mean()
    return float(counts.var() / mean) if mean > 0 else float("nan")


def rate_spectrum(
    times,
    n_recorded: int,
    t0: float,
    t1: float,
    bin_ms: float = RATE_BIN_MS,
    segment_ms: float = 500.0,
):
    """Welch power spectrum of the population rate (Hz per neuron); returns (freq Hz, PSD).

    ``elephant.spectral.welch_psd`` on the mean-subtracted rate ``counts / n / bin``;
    frequency resolution ``1 / segment_ms``.
    """
    import quantities as pq
    from elephant.spectral import welch_psd

    counts = population_counts(times, t0, t1, bin_ms)
    rate = counts / max(n_recorded, 1) / (bin_ms * 1e-3)
    if rate.size < 8:
        return np.zeros(0), np.zeros(0)
    seg = min(int(segment_ms / bin_ms), rate.size)
    freqs, psd = welch_psd(
        rate - rate.mean(),
        n_segments=max(1, rate.size // seg),
        fs=1000.0 / bin_ms * pq.Hz,
        frequency_resolution=None,
        overlap=0.5,
    )
    return np.asarray(freqs.rescale("Hz").magnitude), np.asarray(psd)


def rate_cross_correlation(
    times_a,
    times_b,
    n_a: int,
    n_b: int,
    t0: float,
    t1: float,
    bin_ms: float = RATE_BIN_MS,
    max_lag_ms: float = 50.0,
):
    """Cross-correlation function of two population rates (mean-subtracted, normalised by the
    product of standard deviations); returns (lags ms, cc)."""
    a = population_counts(times_a, t0, t1, bin_ms) / max(n_a, 1)
    b = population_counts(times_b, t0, t1, bin_ms) / max(n_b, 1)
    a = a - a.mean()
    b = b - b.mean()
    norm = a.std() * b.std() * a.size
    lags = np.arange(-int(max_lag_ms / bin_ms), int(max_lag_ms / bin_ms) + 1)
    full = np.correlate(a, b, mode="full")
    mid = a.size - 1
    cc = full[mid + lags] / norm if norm > 0 else np.zeros(lags.size)
    return lags * bin_ms, cc


def population_statistics(pop, t0: float, t1: float, seed: int = 0) -> dict:
    """All per-population statistics of a :class:`analysis.io.PopulationSpikes`."""
    rates = firing_rates(pop.ids, pop.times, pop.n_recorded, t0, t1)
    freqs, psd = rate_spectrum(pop.times, pop.n_recorded, t0, t1)
    peak = float(freqs[1:][np.argmax(psd[1:])]) if psd.size > 1 else float("nan")
    return {
        "rates_hz": rates,
        "cv_isi": cv_isi(pop.ids, pop.times),
        "correlations": correlation_coefficients(pop.ids, pop.times, t0, t1, seed=seed),
        "synchrony": synchrony(pop.ids, pop.times, pop.n_recorded, t0, t1),
        "spectrum_hz": freqs,
        "spectrum_psd": psd,
        "spectral_peak_hz": peak,
    }
