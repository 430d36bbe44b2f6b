"""Verdicts at a stated error rate, with their power: a test run against reference runs.

Each cell (population x statistic) is reduced to one scalar whose meaning a user knows:

=========================  =====================================  ==========================
statistic                  scalar x                               within-run variance v
=========================  =====================================  ==========================
``rate``                   mean firing rate (Hz)                  var(rates) / N
``cv_isi``                 mean ISI CV                            var(CVs) / N_cv
``correlation``            mean pairwise count correlation        SEM^2 from neuron halvings
``correlation_rescaled``   mean correlation x (n_test / n_ref)    same, x factor^2
``synchrony``              Fano factor of the count of M neurons  SEM^2 from 10 time blocks
=========================  =====================================  ==========================

**Noise model (both sides' sample sizes).** A run's scalar varies from seed to seed by its
sampling variance ``v`` (computed inside the run, from its own N: a run with fewer neurons
has a larger ``v``) times an overdispersion ``phi >= 1`` that network-level fluctuations add
(the same for test and reference; it can also be < 1 where the network stabilises a
population's mean, as for inhibitory rates). ``phi`` is the references' seed-to-seed
variance over their mean ``v``, moderated towards a prior :data:`PHI_PRIOR` measured on a
12-seed ensemble. The difference ``x_test - mean(x_ref)`` then has variance
``phi (v_test + mean(v_ref) / m)`` for ``m`` references, and ``t`` = difference / its
standard deviation is referred to Student's t with ``PRIOR_DF + m - 1`` degrees of freedom
(two-sided p-value). Correlations under a scale change are compared after the law
of :func:`pynn_microcircuit.theory.correlation_law` (``correlation_rescaled``); synchrony
is compared at the largest subsample size M both runs have (its value grows with M), so a
scale change alone does not move it.

**Family-wise error.** Holm's step-down procedure over every cell with a p-value keeps the
probability of any false ``differs`` in the table at ``alpha`` (default 0.05): Holm (1979),
Scand J Statist 6:65-70. Each cell also states its p-value.

**Power.** ``min_detectable_effect``: the true difference this comparison detects with
probability 0.8 at the family-wise level (Bonferroni bound ``alpha / K`` of Holm's first
step, so it is conservative): ``(z_{1 - alpha/(2K)} + z_{0.8}) sd``, in the statistic's
units and relative to the reference mean.

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

#: Prior overdispersion phi_0 (seed-to-seed variance / within-run sampling variance) per
#: statistic and its weight in degrees of freedom: the references' own estimate (m - 1
#: degrees of freedom) is moderated towards it (Smyth 2004, Stat Appl Genet Mol Biol 3:3).
#: Measured on NEST seeds 1-6 at n = k = 0.1, 2 s (benchmarks/compare_calibration.py;
#: medians over populations 0.48 rate, 1.24 CV, 1.66 correlation, 1.72 synchrony) and
#: rounded up; the false-alarm rates are then measured on seeds 7-12.
PHI_PRIOR = {"rate": 1.0, "cv_isi": 1.25, "correlation": 2.0, "correlation_rescaled": 2.0,
             "synchrony": 2.0}  # fmt: skip
PRIOR_DF = 4.0
#: Calibrated statistics, in table order.
STATISTICS = ("rate", "cv_isi", "correlation", "correlation_rescaled", "synchrony")
#: Statistics whose margin and MDE are relative to the reference mean.
RELATIVE = {"rate", "correlation", "correlation_rescaled", "synchrony"}
POWER = 0.8


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
        c = np.asarray(s["correlations"], dtype=float)
        if c.size == 0:
            return float("nan"), float("nan")
        f = scale if stat == "correlation_rescaled" else 1.0
        sem = float(s.get("noise", {}).get("mean_correlation_sem", np.nan))
        return f * float(c.mean()), (f * sem) ** 2
    if stat == "synchrony":
        return _sync_at(s, sync_size) if sync_size else (float("nan"), float("nan"))
    raise ValueError(stat)


def _common_sync_size(test: dict, refs: list[dict]) -> float | None:
    common = set(np.asarray(test.get("sync_sizes", []), float).tolist())
    for r in refs:
        common &= set(np.asarray(r.get("sync_sizes", []), float).tolist())
    return max(common) if common else None


def cell(test: dict, refs: list[dict], stat: str, scale: float = 1.0) -> dict:
    """One population's test of ``stat``: estimate, noise model, z, p (before Holm)."""
    size = _common_sync_size(test, refs) if stat == "synchrony" else None
    xt, vt = scalars(test, stat, scale, size)
    pairs = [scalars(r, stat, 1.0, size) for r in refs]
    xr = np.array([p[0] for p in pairs])
    vr = np.array([p[1] for p in pairs])
    out = {"test": xt, "reference": None, "sync_size": size}
    ok_t = np.isfinite(xt) and np.isfinite(vt)
    ok_r = np.isfinite(xr) & np.isfinite(vr)
    if not ok_t or not ok_r.any():
        both = not ok_t and not ok_r.any()
        return {
            **out,
            "p_value": None if both else 0.0,
            "sd": None,
            "state": "no data" if both else "one-sided",
        }
    xr, vr = xr[ok_r], vr[ok_r]
    m = xr.size
    ref_mean, v_ref = float(xr.mean()), float(vr.mean())
    phi0 = PHI_PRIOR.get(stat, 1.0)
    phi, df = phi0, np.inf
    if m >= 2 and v_ref > 0:  # moderated: prior phi0 with PRIOR_DF, the references' with m-1
        phi_hat = overdispersion(xr, vr)
        phi = (PRIOR_DF * phi0 + (m - 1) * phi_hat) / (PRIOR_DF + m - 1)
        df = PRIOR_DF + m - 1
    sd = float(np.sqrt(phi * (vt + v_ref / m)))
    diff = xt - ref_mean
    if sd > 0:
        z = diff / sd
    else:
        z = 0.0 if diff == 0 else np.inf
    p = float(2 * stats.t.sf(abs(z), df))
    return {**out, "reference": ref_mean, "difference": diff, "sd": sd, "phi": phi, "df": df,
            "z": z, "p_value": p, "state": "tested"}  # fmt: skip


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


#: The distribution behind each statistic: its KS distance is
#: :func:`analysis.compare.compare`'s ``distance`` of that key.
DISTRIBUTION_OF = {"rate": "rates_hz", "cv_isi": "cv_isi", "correlation": "correlations"}


def _effects(test: dict, refs: list[dict], stat: str, c: dict, distances: dict | None) -> dict:
    out = {}
    if c.get("reference"):
        out["relative_difference"] = c["difference"] / abs(c["reference"])
    if stat in ("rate", "cv_isi"):
        key = DISTRIBUTION_OF[stat]
        a = np.asarray(test[key], float)
        pooled = np.concatenate([np.asarray(r[key], float) for r in refs])
        if a.size > 1 and pooled.size > 1:
            sd = np.sqrt((a.var(ddof=1) + pooled.var(ddof=1)) / 2)
            out["smd"] = float((a.mean() - pooled.mean()) / sd) if sd > 0 else 0.0
    if distances is not None and stat in DISTRIBUTION_OF:
        out["ks"] = distances[DISTRIBUTION_OF[stat]]["distance"]
    return out


def verdict_cells(
    test: dict,
    refs: list[dict],
    correlation_scale: float | None = None,
    alpha: float = 0.05,
    margins: dict | None = None,
    distances: dict | None = None,
) -> list[dict]:
    """Every population x statistic as a cell (see the module docstring).

    Parameters
    ----------
    test, refs : dict
        ``{population: statistics}`` of the test run and of each reference run
        (:func:`analysis.statistics.population_statistics`).
    correlation_scale : float, optional
        Factor for the test's mean correlation (the correlation law); None: no
        ``correlation_rescaled`` cell can be tested (it is reported with the reason).
    alpha : float
        Family-wise false-alarm rate of the whole table.
    margins : dict, optional
        ``{statistic: margin}``: relative (0.05 = 5 %) for rate, correlation(s) and synchrony,
        absolute for cv_isi; cells within it are ``equivalent``.
    distances : dict, optional
        :func:`analysis.compare.compare`'s result for the same runs: its mean KS distances
        become the cells' ``ks`` (computed once, there).

    Returns
    -------
    list of dict
        ``population``, ``statistic``, ``verdict`` (consistent | differs | equivalent |
        no data), ``p_value`` (Holm-adjusted: ``p_holm``), ``test``, ``reference``,
        ``effect_size`` (relative difference, or the difference for cv_isi), ``smd``, ``ks``,
        ``min_detectable_effect`` (same units as ``effect_size``), ``alpha``.
    """
    margins = margins or {}
    cells = []
    for pop, t in test.items():
        rpops = [r[pop] for r in refs]
        for stat in STATISTICS:
            if stat == "correlation_rescaled" and correlation_scale is None:
                cells.append({"population": pop, "statistic": stat, "verdict": "no data",
                              "p_value": None, "note": "no correlation law for these runs"})  # fmt: skip
                continue
            c = cell(t, rpops, stat, correlation_scale or 1.0)
            dist = distances[pop] if distances is not None else None
            c.update(population=pop, statistic=stat, **_effects(t, rpops, stat, c, dist))
            cells.append(c)
    tested = [c for c in cells if c.get("p_value") is not None]
    k = max(len(tested), 1)
    for c, adj in zip(tested, holm([c["p_value"] for c in tested]), strict=True):
        c["p_holm"] = adj

    def z_mde(df):  # two-sided level alpha / K, power POWER (t approximation)
        return stats.t.isf(alpha / (2 * k), df) + stats.t.ppf(POWER, df)

    for c in cells:
        c["alpha"] = alpha
        if c.get("state") == "one-sided":
            c["verdict"] = "differs"  # a statistic on one side only (e.g. a silent population)
            continue
        if c.get("state") != "tested":
            c["verdict"] = "no data"
            continue
        # relative to the reference mean where that mean is clearly non-zero
        rel = c["statistic"] in RELATIVE and abs(c["reference"]) > 2 * c["sd"]
        unit = abs(c["reference"]) if rel else 1.0
        c["effect_size"] = c["difference"] / unit
        c["min_detectable_effect"] = z_mde(c["df"]) * c["sd"] / unit
        c["mde_units"] = "relative" if rel else "absolute"
        c["verdict"] = "differs" if c["p_holm"] < alpha else "consistent"
        margin = margins.get(c["statistic"])
        if margin is not None and c["verdict"] == "consistent":
            half_width = stats.t.isf(alpha, c["df"]) * c["sd"] / unit
            if abs(c["effect_size"]) + half_width < margin:
                c["verdict"] = "equivalent"
            c["margin"] = margin
    return cells


def parse_margins(text: str | None) -> dict:
    """``"rate=5%,cv_isi=0.05"`` -> ``{"rate": 0.05, "cv_isi": 0.05}``; one-line errors."""
    from pynn_microcircuit.errors import UserError

    out: dict = {}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        key = {"rates": "rate", "correlations": "correlation", "cv": "cv_isi"}.get(
            key.strip(), key.strip()
        )
        if key not in STATISTICS or not value:
            raise UserError(
                f"--margin '{part}' is not STAT=VALUE with STAT one of {', '.join(STATISTICS)}; "
                "e.g. --margin rate=5%,cv_isi=0.05"
            )
        try:
            v = float(value.strip().rstrip("%")) / (100.0 if value.strip().endswith("%") else 1.0)
        except ValueError:
            raise UserError(f"--margin '{part}': '{value}' is not a number") from None
        if v <= 0:
            raise UserError(f"--margin '{part}' must be > 0")
        out[key] = v
    return out


def verdict_text_table(cells: list[dict]) -> str:
    """Plain-text table, one line per cell: population, statistic, verdict, effect, MDE."""
    lines = [f"{'population':<10} {'statistic':<22} verdict"]
    for c in cells:
        lines.append(f"{c['population']:<10} {c['statistic']:<22} {format_cell(c)}")
    return "\n".join(lines)


def verdict_html_table(cells: list[dict]) -> str:
    """Populations x statistics, each cell its verdict, effect, p and detectable effect."""
    import html

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
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


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
    return f"{c['verdict']} ({shown}, p {c['p_holm']:.2g}); detects {what}"
