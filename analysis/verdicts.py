"""Verdicts at a stated error rate, with their power: a test run against reference runs.

Each cell (population x statistic) is reduced to one scalar whose meaning a user knows:

=========================  =====================================  ==========================
statistic                  scalar x                               within-run variance v
=========================  =====================================  ==========================
``rate``                   mean firing rate (Hz)                  var(rates) / N
``cv_isi``                 mean ISI CV                            var(CVs) / N_cv
``correlation``            population-averaged count correlation  jackknife SEM^2, 40 blocks
``correlation_rescaled``   the same x (n_test / n_ref)            same, x factor^2
``synchrony``              Fano factor of the count of M neurons  SEM^2 from 10 time blocks
=========================  =====================================  ==========================

**Noise model (both sides, each its own overdispersion).** A run's scalar varies from seed
to seed by its sampling variance ``v`` (computed inside the run, from its own N: a run with
fewer neurons has a larger ``v``) times an overdispersion ``phi`` that network-level
fluctuations add (``phi > 1``) or remove (``phi < 1`` where the network stabilises a
population's mean, as for inhibitory rates). ``phi`` changes with the network's scale and the
analysed duration, so each side has its own: the test ensemble's (``n`` runs; one run is an
ensemble of one) and the references' (``m`` runs), each moderated towards the prior for *its*
scale and duration (:mod:`pynn_microcircuit.analysis.priors`: measured, interpolated between
measured scales, generic, or for a single run at an unmeasured scale a stated conservative
bound) with that prior's weight ``d_0`` and its own ``n - 1`` (Smyth 2004, Stat Appl Genet
Mol Biol 3:3; :func:`moderated`). The difference of the two means then has variance
``phi_T v_T / n + phi_R v_R / m`` and ``t`` = difference / its standard deviation is referred
to Student's t with the Welch-Satterthwaite degrees of freedom of that sum
(:func:`welch_df`), which count both estimated variances. Each cell states
``variance_source`` (``test``, ``reference``): how many runs and which prior.
Correlations under a scale change are compared after the law of
:func:`pynn_microcircuit.theory.correlation_law` (``correlation_rescaled``); synchrony is
compared at the largest subsample size M both sides have, raw and after the same law
(``synchrony_rescaled``: the Fano factor of M summed counts is about
``1 + (M - 1) x mean correlation``, so ``F - 1`` scales as the correlation does).

**Correlation.** The correlation cells test the population-averaged count correlation
(:func:`pynn_microcircuit.analysis.statistics.pooled_correlation`: averaged covariance over
averaged variance of every neuron, 2 ms bins) with its jackknife standard error, not the
mean of a sample of pair coefficients. Measured on 24 NEST seeds (n = k = 0.1, 2 s) its
seed-to-seed standard deviation (log scale) is 10-30 % smaller in 7 of 8 populations, and in
``benchmarks/compare_calibration.py`` runs with half the neurons at the same in-degrees
(correlations x1.5-x3.7) were flagged in 43 of 64 population cells with Holm (8 runs; the
pair mean: 8 of 16 in 2 runs) at a per-cell false-alarm rate of 4.8 % (pair mean 5.4 %), and
in 59 of 64 with the default control (below). The
distribution of pair coefficients is still compared (KS distance, figures).

**Log scale.** The standard error of a mean correlation is proportional to the correlation
(measured: 10-12 % of it in L2/3E for both a run and one with twice its correlation), so a
multiplicative change is tested as a difference of logs, with ``v / x^2`` for the variance
(delta method; used where every value exceeds 3 standard errors, else the linear scale).
Effects and detectable effects are then ratios minus one.

**Multiple comparisons** (``control``). ``"fwer"`` (default): Holm's step-down procedure
keeps the probability of any false ``differs`` at ``alpha`` whatever else differs and
whatever the dependence between cells (Holm 1979, Scand J Statist 6:65-70); tables are read
cell by cell, so this is the guarantee a reader needs. ``"fdr"``: the Benjamini-Hochberg
step-up procedure keeps the expected share of false ``differs`` among the table's
``differs`` at ``alpha`` (Benjamini & Hochberg 1995, J R Stat Soc B 57:289-300), proved for
independent or positively dependent (PRDS) p-values (Benjamini & Yekutieli 2001, Ann Stat
29:1165-1188); PRDS is not shown for these cells (a rescaled cell is a shift of its raw
cell), so its bound is an assumption here, and the simulated false discovery rate under a
partial null is reported beside it (``benchmarks/cross_scale_calibration.py``). It sees more
when several cells differ at once (the half-neuron runs: the raw correlation flagged in 43
of 64 cells with Holm, 59 of 64 with Benjamini-Hochberg, at 3 s). Each cell states its
p-value and the adjusted one (``p_adjusted``). Where the correlation law's factor is 1 (runs
of one scale) a rescaled cell repeats its raw cell's test; the hypothesis is counted once.

**Power.** ``min_detectable_effect``: the true difference this comparison detects with
probability 0.8 even if no other cell differs: a p-value below ``alpha / K`` is a
``differs`` under either control (the first step of Holm's and of Benjamini-Hochberg's
procedure), so ``(z_{1 - alpha/(2K)} + z_{0.8}) sd`` bounds it from above (conservative:
where other cells differ, Benjamini-Hochberg's threshold rises and smaller effects are
seen), in the statistic's units and relative to the reference mean.

**Time needed.** With the runs' duration each cell also states the simulated time (test
and references alike) at which a given effect (``compare --detect``) would be detected with
probability 0.8; see :func:`time_needed` for the variance model behind it.

**Equivalence.** With a margin (``rate=5%``: +-5 % of the reference mean), a cell is
``equivalent`` when the ``1 - 2 alpha`` confidence interval of the difference lies inside
+-margin (two one-sided tests; Schuirmann 1987, J Pharmacokinet Biopharm 15:657-680).

Effect sizes as NetworkUnit/Elephant users expect: relative difference, standardised mean
difference (Cohen's d over neurons, for rates and CVs) and the KS distance between the
distributions. The spectrum is reported by its shape distance only (no calibrated test).
The false-alarm rate and power of these verdicts are measured by
``benchmarks/compare_calibration.py`` on NEST runs (README).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .priors import phi0

#: Calibrated statistics, in table order.
STATISTICS = ("rate", "cv_isi", "correlation", "correlation_rescaled", "synchrony",
              "synchrony_rescaled")  # fmt: skip
#: Rescaled cells and the raw statistic each rescales (the correlation law, module docstring).
RESCALED = {"correlation_rescaled": "correlation", "synchrony_rescaled": "synchrony"}
#: Statistics whose margin and MDE are relative to the reference mean.
RELATIVE = {"rate", "correlation", "correlation_rescaled", "synchrony", "synchrony_rescaled"}
#: Statistics tested on a log scale (module docstring, "Log scale").
LOG_SCALE = {"correlation", "correlation_rescaled"}
POWER = 0.8
#: Multiple-comparison control of the table (module docstring): the probability of any false
#: ``differs`` (Holm, the default) or the expected share of false ``differs``
#: (Benjamini-Hochberg).
CONTROLS = {"fwer": "Holm", "fdr": "Benjamini-Hochberg"}
DEFAULT_CONTROL = "fwer"
#: Notes of rescaled cells: no law to rescale by; the raw cell again.
NOTE_NO_LAW = "no correlation law for these runs"
NOTE_FACTOR_1 = "law factor 1: the raw cell's test, counted once"
#: Default effects whose required simulated time each cell states (``compare --detect``):
#: relative for the statistics of :data:`RELATIVE`, absolute for cv_isi.
DETECT_DEFAULT = {"rate": 0.10, "correlation": 0.5, "correlation_rescaled": 0.5,
                  "synchrony": 0.2, "synchrony_rescaled": 0.2}  # fmt: skip


def _mean_var(values) -> tuple[float, float]:
    """Mean of the finite values and the variance of that mean (sample variance / count)."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size < 2:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.var(ddof=1) / a.size)


def overdispersion(x, v) -> float:
    """phi-hat: the seed-to-seed variance of the scalars ``x`` over the mean of their
    within-run variances ``v`` (1 would mean sampling noise explains all the spread)."""
    return float(np.var(np.asarray(x, float), ddof=1)) / float(np.mean(v))


def _sync_at(s: dict, size: float) -> tuple[float, float]:
    sizes = np.asarray(s.get("sync_sizes", []), dtype=float)
    hit = np.flatnonzero(sizes == size)
    if not hit.size:
        return float("nan"), float("nan")
    i = int(hit[0])
    return float(s["sync_values"][i]), float(s["sync_sems"][i]) ** 2


def scalars(s: dict, stat: str, scale: float = 1.0, sync_size: float | None = None):
    """(x, v) of one population's statistics ``s`` for ``stat`` (see the module table)."""
    if stat == "rate":
        return _mean_var(s["rates_hz"])
    if stat == "cv_isi":
        return _mean_var(s["cv_isi"])
    if stat in ("correlation", "correlation_rescaled"):
        f = scale if stat == "correlation_rescaled" else 1.0
        x = float(s.get("pooled_correlation", np.nan))
        sem = float(s.get("noise", {}).get("pooled_correlation_sem", np.nan))
        return f * x, (f * sem) ** 2
    if stat in ("synchrony", "synchrony_rescaled"):
        if not sync_size:
            return float("nan"), float("nan")
        x, v = _sync_at(s, sync_size)
        if stat == "synchrony_rescaled":  # Fano - 1 ~ (M - 1) x mean correlation
            return 1.0 + scale * (x - 1.0), scale**2 * v
        return x, v
    raise ValueError(stat)


def on_log_scale(x, v, phi: float = 1.0):
    """``(log x, v / x^2)`` (the delta method) where every ``x`` is clearly positive: more
    than 3 seed-to-seed standard deviations ``sqrt(phi v)`` above zero, so the linearisation
    holds; else None."""
    x, v = np.asarray(x, float), np.asarray(v, float)
    if np.all(np.isfinite(x) & np.isfinite(v)) and np.all(x > 3 * np.sqrt(phi * v)):
        return np.log(x), v / x**2
    return None


def _common_sync_size(test: dict, refs: list[dict]) -> float | None:
    common = set(np.asarray(test.get("sync_sizes", []), float).tolist())
    for r in refs:
        common &= set(np.asarray(r.get("sync_sizes", []), float).tolist())
    return max(common) if common else None


def moderated(phi0: float, d0: float, x, v) -> tuple[float, float]:
    """(phi, degrees of freedom) of one side: the prior ``phi0`` with weight ``d0`` and, with
    two or more runs, their own phi-hat with ``len(x) - 1`` (Smyth 2004, Stat Appl Genet Mol
    Biol 3:3, eq. 10)."""
    n = len(x)
    if n >= 2 and float(np.mean(v)) > 0:
        return (d0 * phi0 + (n - 1) * overdispersion(x, v)) / (d0 + n - 1), d0 + n - 1
    return phi0, d0


def welch_df(a: float, nu_a: float, b: float, nu_b: float) -> float:
    """Degrees of freedom of ``a + b``, two variances estimated with ``nu_a`` and ``nu_b``
    (Satterthwaite 1946, Biometrics Bull 2:110-114; Welch 1947, Biometrika 34:28-35)."""
    if a + b <= 0:
        return min(nu_a, nu_b)
    return (a + b) ** 2 / (a**2 / nu_a + b**2 / nu_b)


def _source(n: int, phi: float, nu: float, label: str) -> str:
    runs = f"ensemble of {n} seeds" if n > 1 else "single run"
    return f"{runs}, prior {label} (phi {phi:.3g}, {nu:.3g} df)"


def cell(tests, refs: list[dict], stat: str, scale: float = 1.0, prior: tuple = (1.0, 4.0),
         test_prior: tuple | None = None, labels: tuple = ("given", "given")) -> dict:  # fmt: skip
    """One population's test of ``stat``: estimate, noise model of both sides, t, p.

    ``tests``: the test run's statistics, or a list of them (an ensemble); ``refs``: the
    references'. ``prior`` / ``test_prior``: (phi_0, d_0) of each side (the test side takes the
    references' when None: runs of one scale); ``labels``: what each prior is, for
    ``variance_source``. The difference of the sides' means has variance
    ``phi_T v_T / n + phi_R v_R / m`` (each ``phi`` moderated towards its own prior) and
    Welch-Satterthwaite degrees of freedom (:func:`welch_df`).
    """
    tests = [tests] if isinstance(tests, dict) else list(tests)
    same_scale = test_prior is None
    test_prior = prior if same_scale else test_prior
    runs = [*tests, *refs]
    sync = stat in ("synchrony", "synchrony_rescaled")
    size = _common_sync_size(runs[0], runs[1:]) if sync else None
    t_pairs = np.array([scalars(t, stat, scale, size) for t in tests], float).reshape(-1, 2)
    r_pairs = np.array([scalars(r, stat, 1.0, size) for r in refs], float).reshape(-1, 2)
    out = {"test": None, "reference": None, "sync_size": size}
    has_t, has_r = np.isfinite(t_pairs[:, 0]).any(), np.isfinite(r_pairs[:, 0]).any()
    if has_t != has_r:  # a statistic on one side only (e.g. a silent population)
        return {**out, "p_value": 0.0, "sd": None, "state": "one-sided"}
    ok_t = np.isfinite(t_pairs).all(axis=1)
    ok_r = np.isfinite(r_pairs).all(axis=1)
    if not ok_t.any() or not ok_r.any():
        why = "no standard error" if has_t else None
        return {**out, "p_value": None, "sd": None, "state": "no data", "note": why}
    xt, vt = t_pairs[ok_t].T
    xr, vr = r_pairs[ok_r].T
    log = stat in LOG_SCALE and on_log_scale(
        np.r_[xt, xr], np.r_[vt, vr], max(prior[0], test_prior[0])
    )
    if log:
        x, v = log
        xt, xr, vt, vr = x[: xt.size], x[xt.size :], v[: xt.size], v[xt.size :]
    n, m = xt.size, xr.size
    phi_r, nu_r = moderated(*prior, xr, vr)
    if same_scale and n == 1:
        phi_t, nu_t, labels = phi_r, nu_r, ("the references' (same scale)", labels[1])
    else:
        phi_t, nu_t = moderated(*test_prior, xt, vt)
    a, b = phi_t * float(vt.mean()) / n, phi_r * float(vr.mean()) / m
    sd = float(np.sqrt(a + b))
    df = float(welch_df(a, nu_t, b, nu_r))
    diff = float(xt.mean() - xr.mean())
    z = diff / sd if sd > 0 else (0.0 if diff == 0 else float(np.copysign(np.inf, diff)))
    p = float(2 * stats.t.sf(abs(z), df))
    test_mean, ref_mean = float(xt.mean()), float(xr.mean())
    if log:
        test_mean, ref_mean = float(np.exp(test_mean)), float(np.exp(ref_mean))
    return {**out, "test": test_mean, "reference": ref_mean, "difference": diff, "sd": sd,
            "phi": phi_r, "phi_test": phi_t, "df": df, "z": z, "p_value": p,
            "state": "tested", "log_scale": bool(log), "n_references": m, "n_tests": n,
            "v_within": float(vt.mean() / n + vr.mean() / m),
            "variance_source": {"test": _source(n, phi_t, nu_t, labels[0]),
                                "reference": _source(m, phi_r, nu_r, labels[1])}}  # fmt: skip


def ensemble_prior(runs: list[dict]) -> dict:
    """The overdispersion prior measured on same-model runs (``{population: statistics}``
    each): per statistic and population phi-hat on the scale its test uses (log for
    :data:`LOG_SCALE`), weighted as ``(len(runs) - 1) / 2`` degrees of freedom.

    Half the nominal degrees of freedom, because the seed-to-seed variation is heavier-tailed
    than normal: the phi-hats of two independent 12-seed NEST ensembles differ by up to 5x
    (L4I population-averaged correlation: 3.49 vs 0.70), beyond the 95 % range of a ratio of
    two chi-square/11 variables (0.25-4); with the nominal 11 the cross-fitted per-cell
    false-alarm rates of the earlier pair-mean correlation and of synchrony were 6.2 % and
    5.8 % at alpha = 5 %; with 5.5 they are 3.4-4.8 % (+-0.5) for every statistic and no
    table of 240 had a family-wise false alarm (``benchmarks/compare_calibration.py``)."""
    pops = list(runs[0])
    phi: dict = {}
    for stat in ("rate", "cv_isi", "correlation", "synchrony"):
        for pop in pops:
            sts = [r[pop] for r in runs]
            size = _common_sync_size(sts[0], sts[1:]) if stat == "synchrony" else None
            x, v = np.array([scalars(st, stat, 1.0, size) for st in sts]).T
            log = on_log_scale(x, v) if stat in LOG_SCALE else None
            x, v = log if log is not None else (x, v)
            if np.all(np.isfinite(x)) and np.all(np.isfinite(v)) and np.mean(v) > 0:
                phi.setdefault(stat, {})[pop] = overdispersion(x, v)
    return {"df": (len(runs) - 1) / 2, "phi": phi}


def time_needed(c: dict, effect: float, duration_s: float, counting: tuple | None = None):
    """Simulated time (s, test and references alike) at which ``c`` detects ``effect`` with
    probability :data:`POWER`; ``inf`` where a longer run cannot reach it, None if unknown.

    Variance model ``sd^2(T') = a + b T / T'``. The part ``a`` that a longer run keeps is
    the neuron-to-neuron (pair-to-pair) heterogeneity inside a run: the within-run sampling
    variance ``V`` of both sides (``v_within``) less its estimation noise ``C`` (``counting`` = (test,
    reference, each over its runs), :func:`rate_counting_variance`); at most ``sd^2`` (where the network pins a
    population's mean, phi < 1, nothing more is assumed to fall). The rest falls as ``1/T``:
    the estimation noise and the network-level fluctuations of a finite run that make
    phi > 1. Synchrony and the population-averaged correlation (both from the population
    count of every neuron, their ``V`` from time blocks) are all estimation noise: ``a = 0``.
    The ISI CV's split is unknown: None. Measured check (``benchmarks/compare_calibration.py``):
    sd x sqrt(T) at 3 s over 2 s is 1.07 (rate), 0.95 (correlation) and 1.19 (synchrony),
    against 1 for a pure 1/T fall.
    """
    stat = c["statistic"]
    if c.get("state") != "tested" or stat == "cv_isi" or not c.get("sd"):
        return None
    z = c["z_mde"]
    if c["log_scale"]:
        e = float(np.log1p(effect))
    elif c["mde_units"] == "relative":
        e = effect * abs(c["reference"])
    elif stat in RELATIVE:
        return None  # a relative effect of a reference mean near zero
    else:
        e = effect
    if stat in ("synchrony", "correlation", "correlation_rescaled"):
        return duration_s * (z * c["sd"] / e) ** 2
    if counting is None or not np.all(np.isfinite(counting)):
        return None
    var = c["sd"] ** 2
    estimation = counting[0] / c.get("n_tests", 1) + counting[1] / c["n_references"]
    a = min(var, max(c["v_within"] - estimation, 0.0))
    b = var - a
    room = (e / z) ** 2 - a
    return duration_s * b / room if room > 0 else float("inf")


def rate_counting_variance(s: dict, duration_s: float) -> float:
    """The part of a run's within-run variance of the mean rate that falls as 1/T: the
    Poisson count noise of the mean of N rates over T, ``mean(rate) / (T N)`` (Hz^2)."""
    r = np.asarray(s["rates_hz"], float)
    return float(r.mean() / (duration_s * r.size)) if r.size else float("nan")


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone), same order as given."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    k = p.size
    adj = np.empty(k)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p[i]))
        adj[i] = running
    return adj.tolist()


def _prior_label(prior: dict | None) -> str:
    if not prior:
        return "generic"
    return prior.get("label") or ("given" if prior.get("phi") else "generic")


def rate_words(control: str, alpha: float) -> str:
    """What ``alpha`` bounds under ``control``, in words for tables and reports."""
    if control == "fdr":
        return (
            f"a false discovery rate of {alpha:g} (Benjamini-Hochberg, assuming positively "
            "dependent cells, not shown here; the family-wise rate is not bounded)"
        )
    return f"a family-wise false-alarm rate of {alpha:g} (Holm: the chance of any false 'differs')"


def adjust(pvalues: list[float], control: str = DEFAULT_CONTROL) -> list[float]:
    """Adjusted p-values of a table (same order): Benjamini-Hochberg for ``"fdr"``
    (``scipy.stats.false_discovery_control``), :func:`holm` for ``"fwer"``. A cell
    ``differs`` where its adjusted p-value is below alpha."""
    if control == "fdr":
        return stats.false_discovery_control(np.asarray(pvalues, float), method="bh").tolist()
    if control == "fwer":
        return holm(pvalues)
    raise ValueError(f"control must be one of {', '.join(CONTROLS)}, got {control!r}")


#: The distribution behind each statistic: its KS distance is
#: :func:`pynn_microcircuit.analysis.compare.compare`'s ``distance`` of that key.
DISTRIBUTION_OF = {"rate": "rates_hz", "cv_isi": "cv_isi", "correlation": "correlations"}


def _effects(
    tests: list[dict], refs: list[dict], stat: str, c: dict, distances: dict | None
) -> dict:
    out = {}
    if c.get("log_scale"):  # the difference is of logs: the ratio minus one
        out["relative_difference"] = float(np.expm1(c["difference"]))
    elif c.get("reference"):
        out["relative_difference"] = c["difference"] / abs(c["reference"])
    if stat in ("rate", "cv_isi"):
        key = DISTRIBUTION_OF[stat]
        a = np.concatenate([np.asarray(t[key], float) for t in tests])
        pooled = np.concatenate([np.asarray(r[key], float) for r in refs])
        if a.size > 1 and pooled.size > 1:
            sd = np.sqrt((a.var(ddof=1) + pooled.var(ddof=1)) / 2)
            out["smd"] = float((a.mean() - pooled.mean()) / sd) if sd > 0 else 0.0
    if distances is not None and stat in DISTRIBUTION_OF:
        out["ks"] = distances[DISTRIBUTION_OF[stat]]["distance"]
    return out


def verdict_cells(
    test,
    refs: list[dict],
    correlation_scale: float | None = None,
    alpha: float = 0.05,
    margins: dict | None = None,
    distances: dict | None = None,
    prior: dict | None = None,
    duration_s: float | None = None,
    detect: dict | None = None,
    control: str = DEFAULT_CONTROL,
    test_prior: dict | None = None,
) -> list[dict]:
    """Every population x statistic as a cell (see the module docstring).

    Parameters
    ----------
    test : dict or list of dict
        ``{population: statistics}`` of the test run, or of each run of a test ensemble
        (:func:`pynn_microcircuit.analysis.statistics.population_statistics`).
    refs : list of dict
        The same of each reference run.
    correlation_scale : float, optional
        Factor for the test's mean correlation (the correlation law); None: no
        ``correlation_rescaled`` cell can be tested (it is reported with the reason).
    alpha : float
        Error rate of the whole table: its false discovery rate (``control="fdr"``, also
        the probability of any ``differs`` when the runs do not differ) or its family-wise
        false-alarm rate (``"fwer"``).
    margins : dict, optional
        ``{statistic: margin}``: relative (0.05 = 5 %) for rate, correlation(s) and synchrony,
        absolute for cv_isi; cells within it are ``equivalent``.
    distances : dict, optional
        :func:`pynn_microcircuit.analysis.compare.compare`'s result for the same runs: its mean KS distances
        become the cells' ``ks`` (computed once, there).
    prior : dict, optional
        The references' overdispersion prior ``{"df": d0, "phi": {stat: {pop: phi0}}}`` (a
        selection of :mod:`pynn_microcircuit.analysis.priors`, with its ``label``); default
        the generic one.
    test_prior : dict, optional
        The test side's prior (another scale or duration than the references); None: runs of
        one scale and duration (see :func:`cell`).
    duration_s : float, optional
        Analysed duration of the runs (s): with it each tested cell states ``t_needed_s``,
        the simulated time that detects ``detect_effect`` (:func:`time_needed`).
    detect : dict, optional
        ``{statistic: effect}`` for ``t_needed_s``; default :data:`DETECT_DEFAULT`.
    control : {"fwer", "fdr"}
        Multiple-comparison control (:data:`CONTROLS`, :func:`adjust`); default Holm.

    Returns
    -------
    list of dict
        ``population``, ``statistic``, ``verdict`` (consistent | differs | equivalent |
        no data), ``p_value`` (adjusted: ``p_adjusted``), ``test``, ``reference``,
        ``effect_size`` (relative difference, or the difference for cv_isi), ``smd``, ``ks``,
        ``min_detectable_effect`` (same units as ``effect_size``), ``alpha``.
    """
    margins = margins or {}
    tests = [test] if isinstance(test, dict) else list(test)
    cells = _raw_cells(tests, refs, correlation_scale, distances, prior, test_prior)
    k = _adjust_family(cells, control, correlation_scale)
    detect = {**DETECT_DEFAULT, **(detect or {})}
    for c in cells:
        c["alpha"] = alpha
        if c.get("state") == "one-sided":
            c["verdict"] = "differs"  # a statistic on one side only (e.g. a silent population)
            continue
        if c.get("state") != "tested":
            c["verdict"] = "no data"
            continue
        _judge(c, alpha, k, margins.get(c["statistic"]), control)
        effect = detect.get(c["statistic"])
        if duration_s and effect:
            _add_time_needed(c, effect, duration_s, tests, refs)
    return cells


def _raw_cells(tests, refs, correlation_scale, distances, prior, test_prior) -> list[dict]:
    """A cell per population x statistic with its unadjusted test (:func:`cell`) and the
    effect sizes; rescaled cells without a correlation law are ``no data``."""
    labels = (_prior_label(prior if test_prior is None else test_prior), _prior_label(prior))
    cells = []
    for pop in tests[0]:
        tpops, rpops = [t[pop] for t in tests], [r[pop] for r in refs]
        for stat in STATISTICS:
            if stat in RESCALED and correlation_scale is None:
                cells.append({"population": pop, "statistic": stat, "verdict": "no data",
                              "p_value": None, "note": NOTE_NO_LAW})  # fmt: skip
                continue
            tp = None if test_prior is None else phi0(test_prior, stat, pop)
            c = cell(tpops, rpops, stat, correlation_scale or 1.0, phi0(prior, stat, pop),
                     tp, labels)  # fmt: skip
            dist = distances[pop] if distances is not None else None
            c.update(population=pop, statistic=stat, **_effects(tpops, rpops, stat, c, dist))
            cells.append(c)
    return cells


def _adjust_family(cells: list[dict], control: str, correlation_scale) -> int:
    """Adjusted p-values (``p_adjusted``) over the family of tested cells; returns its size.

    With a law factor of exactly 1 a rescaled cell is its raw cell's hypothesis again: one
    hypothesis, counted once in the family (its adjusted p-value is the other's)."""
    same = correlation_scale == 1.0
    tested = [
        c
        for c in cells
        if c.get("p_value") is not None and not (same and c["statistic"] in RESCALED)
    ]
    for c, adj in zip(tested, adjust([c["p_value"] for c in tested], control), strict=True):
        c["p_adjusted"] = adj
    if same:
        raw = {(c["population"], c["statistic"]): c for c in tested}
        for c in cells:
            twin = raw.get((c["population"], RESCALED.get(c["statistic"])))
            if twin is not None:
                c["p_adjusted"] = twin["p_adjusted"]
                c["note"] = NOTE_FACTOR_1
    return max(len(tested), 1)


def _judge(c: dict, alpha: float, k: int, margin: float | None, control: str) -> None:
    """A tested cell's verdict, effect size, minimum detectable effect (two-sided level
    alpha / k, power :data:`POWER`, t approximation) and, within ``margin``, equivalence
    (its 1 - 2 alpha interval inside the margin: Schuirmann's two one-sided tests)."""

    def z_mde(df):
        return stats.t.isf(alpha / (2 * k), df) + stats.t.ppf(POWER, df)

    c["control"] = control
    c["verdict"] = "differs" if c["p_adjusted"] < alpha else "consistent"
    c["z_mde"] = float(z_mde(c["df"]))
    half_width = stats.t.isf(alpha, c["df"]) * c["sd"]  # of the 1 - 2 alpha interval
    if c["log_scale"]:  # relative: ratio - 1
        c["effect_size"] = float(np.expm1(c["difference"]))
        c["min_detectable_effect"] = float(np.expm1(z_mde(c["df"]) * c["sd"]))
        c["mde_units"] = "relative"
        lo, hi = c["difference"] - half_width, c["difference"] + half_width
        inside = margin is not None and margin < 1 and np.log1p(-margin) < lo
        inside = inside and hi < np.log1p(margin)
    else:  # relative to the reference mean where that mean is clearly non-zero
        rel = c["statistic"] in RELATIVE and abs(c["reference"]) > 2 * c["sd"]
        unit = abs(c["reference"]) if rel else 1.0
        c["effect_size"] = c["difference"] / unit
        c["min_detectable_effect"] = z_mde(c["df"]) * c["sd"] / unit
        c["mde_units"] = "relative" if rel else "absolute"
        # a margin is in the statistic's own terms: relative to the reference mean for
        # the statistics of RELATIVE whatever the mean (near zero: a tiny margin)
        span = abs(c["reference"]) if c["statistic"] in RELATIVE else 1.0
        inside = margin is not None and abs(c["difference"]) + half_width < margin * span
    if margin is not None and c["verdict"] == "consistent":
        c["verdict"] = "equivalent" if inside else c["verdict"]
        c["margin"] = margin


def _add_time_needed(c: dict, effect: float, duration_s: float, tests, refs) -> None:
    """``t_needed_s``: the simulated time that detects ``effect`` (:func:`time_needed`)."""
    pop = c["population"]
    counting = None
    if c["statistic"] == "rate":
        cr = [rate_counting_variance(r[pop], duration_s) for r in refs]
        ct = [rate_counting_variance(t[pop], duration_s) for t in tests]
        counting = (float(np.mean(ct)), float(np.mean(cr)))
    t = time_needed(c, effect, duration_s, counting)
    if t is not None:
        c["detect_effect"], c["duration_s"] = effect, duration_s
        c["t_needed_s"] = t if np.isfinite(t) else None  # None: not by a longer run


def parse_margins(text: str | None, option: str = "--margin") -> dict:
    """``"rate=5%,cv_isi=0.05"`` -> ``{"rate": 0.05, "cv_isi": 0.05}``; one-line errors
    naming ``option``."""
    from pynn_microcircuit.errors import UserError

    out: dict = {}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        key = {"rates": "rate", "correlations": "correlation", "cv": "cv_isi"}.get(
            key.strip(), key.strip()
        )
        if key not in STATISTICS or not value:
            raise UserError(
                f"{option} '{part}' is not STAT=VALUE with STAT one of {', '.join(STATISTICS)}; "
                f"e.g. {option} rate=5%,cv_isi=0.05"
            )
        try:
            v = float(value.strip().rstrip("%")) / (100.0 if value.strip().endswith("%") else 1.0)
        except ValueError:
            raise UserError(f"{option} '{part}': '{value}' is not a number") from None
        if v <= 0:
            raise UserError(f"{option} '{part}' must be > 0")
        out[key] = v
    return out


#: What a table says instead of ``correlation_rescaled`` cells that add nothing to it (see
#: :func:`shown_cells`), by the cells' note.
_REPEATS = {
    NOTE_FACTOR_1: "the rescaled correlation and synchrony are the raw cells at law factor 1 "
    "(runs of one scale)",
    NOTE_NO_LAW: (
        "rescaled correlation and synchrony: no correlation law for these runs (the scaling "
        "changes W = K J)"
    ),
}


def shown_cells(cells: list[dict]) -> tuple[list[dict], str | None]:
    """The cells a table shows, and a note for those it leaves out: the
    ``correlation_rescaled`` cells when every one of them repeats the correlation cell (law
    factor 1) or has no law to apply; ``comparison.json`` keeps them all."""
    rescaled = [c for c in cells if c["statistic"] in RESCALED]
    notes = {c.get("note") for c in rescaled}
    if not rescaled or len(notes) != 1 or next(iter(notes)) not in _REPEATS:
        return cells, None
    kept = [c for c in cells if c["statistic"] not in RESCALED]
    return kept, _REPEATS[next(iter(notes))] + "; comparison.json keeps those cells"


def verdict_text_table(cells: list[dict]) -> str:
    """Plain-text table, one line per cell: population, statistic, verdict, effect, MDE."""
    cells, left_out = shown_cells(cells)
    lines = [f"{'population':<10} {'statistic':<22} verdict"]
    for c in cells:
        lines.append(f"{c['population']:<10} {c['statistic']:<22} {format_cell(c)}")
    if left_out:
        lines.append(left_out)
    return "\n".join(lines)


def variance_html_table(cells: list[dict]) -> str:
    """Per tested cell: where each side's seed-to-seed variance comes from."""
    import html

    rows = [
        f"<tr><td>{html.escape(c['population'])}</td><td>{html.escape(c['statistic'])}</td>"
        f"<td>{html.escape(c['variance_source']['test'])}</td>"
        f"<td>{html.escape(c['variance_source']['reference'])}</td></tr>"
        for c in cells
        if c.get("variance_source")
    ]
    head = "<tr><th>population</th><th>statistic</th><th>test side</th><th>references</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def verdict_html_table(cells: list[dict]) -> str:
    """Populations x statistics, each cell its verdict, effect, p and detectable effect."""
    import html

    cells, left_out = shown_cells(cells)
    pops = list(dict.fromkeys(c["population"] for c in cells))
    stats_ = list(dict.fromkeys(c["statistic"] for c in cells))
    by = {(c["population"], c["statistic"]): c for c in cells}
    colour = {"consistent": "ok", "equivalent": "ok", "differs": "bad"}
    head = "".join(f"<th>{html.escape(s)}</th>" for s in stats_)
    rows = []
    for p in pops:
        tds = []
        for s in stats_:
            c = by.get((p, s))
            cls = colour.get(c["verdict"], "") if c else ""
            tds.append(f'<td class="{cls}">{html.escape(format_cell(c)) if c else ""}</td>')
        rows.append(f"<tr><th>{html.escape(p)}</th>{''.join(tds)}</tr>")
    note = f"<p>{html.escape(left_out)}.</p>" if left_out else ""
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>{note}"


def format_cell(c: dict) -> str:
    """'consistent (p 0.41); would detect >= 12 %' and the like, for tables and figures."""
    if c["verdict"] == "no data":
        return "no data"
    if c.get("min_detectable_effect") is None:
        return c["verdict"]
    mde = c["min_detectable_effect"]
    what = f">= {100 * mde:.0f} %" if c.get("mde_units") == "relative" else f">= {mde:.3g}"
    eff = c["effect_size"]
    shown = f"{100 * eff:+.0f} %" if c.get("mde_units") == "relative" else f"{eff:+.3g}"
    text = f"{c['verdict']} ({shown}, p {c['p_adjusted']:.2g}); detects {what}"
    if c.get("detect_effect") is not None:
        e = c["detect_effect"]
        e = f"{100 * e:.0f} %" if c.get("mde_units") == "relative" else f"{e:.3g}"
        t = c.get("t_needed_s")
        if t is None:
            text += f"; {e} not by a longer run"
        elif t <= c.get("duration_s", 0.0):
            text += f"; {e} within this run's length"
        else:
            text += f"; {e} needs {t:.3g} s"
    return text
