"""Calibrated verdicts (analysis/verdicts.py) on synthetic statistics with known truth."""

import numpy as np
import pytest

from pynn_microcircuit.analysis.verdicts import (
    RESCALED,
    adjust,
    holm,
    parse_margins,
    verdict_cells,
)
from pynn_microcircuit.errors import UserError


def _stats(rng, rate=5.0, n=2000, corr=0.01):
    """One population's statistics: rates of n neurons, CVs, correlations and synchrony at
    the sizes the analysis uses, with sampling noise of the stated size."""
    return {
        "P": {
            "rates_hz": rng.gamma(4.0, rate / 4.0, n),
            "cv_isi": rng.normal(0.8, 0.1, n),
            "correlations": rng.normal(corr, 0.02, 5000),
            "pooled_correlation": corr * (1 + 0.1 * rng.normal()),
            "noise": {"pooled_correlation_sem": 0.1 * corr},
            "sync_sizes": np.array([100.0, 500.0]),
            "sync_values": np.array([1.5, 3.0]) + rng.normal(0, 0.05, 2),
            "sync_sems": np.array([0.05, 0.05]),
        }
    }


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04: x 4/1, 4/2, 4/3, 4/4 = 0.02, 0.02, 0.04, 0.04 (then the
    # running minimum from the top, which changes nothing here)
    assert adjust(p, "fdr") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust([0.04, 0.01], "fdr") == pytest.approx([0.04, 0.02])
    with pytest.raises(ValueError, match="fwer, fdr"):
        adjust(p, "bonferroni")


def test_same_model_consistent_and_a_large_change_differs():
    rng = np.random.default_rng(0)
    refs = [_stats(rng) for _ in range(3)]
    same = verdict_cells(_stats(rng), refs, correlation_scale=1.0)
    assert all(c["verdict"] == "consistent" for c in same)
    hot = verdict_cells(_stats(rng, rate=7.0), refs, correlation_scale=1.0)
    rate = next(c for c in hot if c["statistic"] == "rate")
    assert rate["verdict"] == "differs" and rate["effect_size"] == pytest.approx(0.4, abs=0.06)
    assert rate["min_detectable_effect"] < 0.4  # what it could see, stated in the cell
    assert 0 <= rate["p_value"] <= rate["p_adjusted"] < 0.05


def test_no_law_and_one_sided_cells():
    rng = np.random.default_rng(1)
    refs = [_stats(rng) for _ in range(2)]
    cells = verdict_cells(_stats(rng), refs, correlation_scale=None)
    law = next(c for c in cells if c["statistic"] == "correlation_rescaled")
    assert law["verdict"] == "no data" and "no correlation law" in law["note"]
    silent = _stats(rng)
    silent["P"]["cv_isi"] = np.zeros(0)  # no neuron with two ISIs
    cv = next(c for c in verdict_cells(silent, refs) if c["statistic"] == "cv_isi")
    assert cv["verdict"] == "differs"


def test_equivalence_margins():
    rng = np.random.default_rng(2)
    refs = [_stats(rng) for _ in range(4)]
    cells = verdict_cells(_stats(rng), refs, margins={"rate": 0.2})
    assert next(c for c in cells if c["statistic"] == "rate")["verdict"] == "equivalent"
    cells = verdict_cells(_stats(rng), refs, margins={"rate": 0.001})
    assert next(c for c in cells if c["statistic"] == "rate")["verdict"] == "consistent"
    assert parse_margins("rates=5%,cv_isi=0.05") == {"rate": 0.05, "cv_isi": 0.05}
    with pytest.raises(UserError, match="is not STAT=VALUE"):
        parse_margins("speed=3")


def test_priors_by_network_scale_and_duration():
    """Each side takes the prior measured for its network, scale and duration; between two
    measured scales log phi is interpolated in log n; elsewhere the generic prior; a single
    run at an unmeasured scale the conservative bound (the largest measured phi)."""
    from pynn_microcircuit.analysis import priors

    pd14 = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    entries = [
        {"n_scale": s, "k_scale": s, "t_sim_ms": 2000.0, "df": 5.5,
         "phi": {"rate": {p: phi for p in pd14}, "correlation": {p: 2 * phi for p in pd14}}}
        for s, phi in ((0.05, 1.0), (0.2, 4.0))
    ]  # fmt: skip
    got = priors.select(pd14, 0.05, 0.05, 2000.0, entries)
    assert got["kind"] == "measured" and got["phi"]["rate"]["L4E"] == 1.0
    mid = priors.select(pd14, 0.1, 0.1, 2000.0, entries)  # halfway in log n: geometric mean
    assert mid["kind"] == "interpolated" and mid["phi"]["rate"]["L4E"] == pytest.approx(2.0)
    assert mid["phi"]["correlation"]["L5I"] == pytest.approx(4.0) and mid["df"] == 5.5
    for n, k, t in ((0.5, 0.5, 2000.0), (0.1, 0.1, 3000.0), (0.05, 0.1, 2000.0)):
        assert priors.select(pd14, n, k, t, entries)["kind"] == "generic"
    assert priors.select(["A", "B"], 0.05, 0.05, 2000.0, entries)["kind"] == "generic"
    bound = priors.conservative(pd14, entries)
    assert bound["phi"]["rate"]["L4E"] == 4.0 and bound["phi"]["correlation"]["L4E"] == 8.0
    assert bound["phi"]["cv_isi"]["L4E"] == priors.GENERIC_PHI["cv_isi"]
    assert bound["df"] == priors.GENERIC_DF
    noisy = [*entries, {**entries[0], "n_scale": 1.0, "k_scale": 1.0, "df": 1.0,
                        "phi": {"rate": {p: 50.0 for p in pd14}}}]  # fmt: skip
    assert priors.conservative(pd14, noisy)["phi"]["rate"]["L4E"] == 4.0  # 3 seeds: ignored
    assert priors.phi0(got, "correlation_rescaled", "L4E") == (2.0, 5.5)
    assert priors.phi0(None, "rate", "L4E") == (priors.GENERIC_PHI["rate"], priors.GENERIC_DF)
    shipped = priors.select(pd14, 0.1, 0.1, 2000.0)  # the shipped 24-seed prior at 0.1
    assert shipped["kind"] == "measured" and shipped["df"] == 11.5


def test_correlation_change_on_log_scale_and_time_needed():
    """A doubled population-averaged correlation whose standard error doubles with it (as
    measured in NEST runs) is an effect of +100 % on the log scale. Its noise is all
    estimation noise of a finite run, so the time needed for the detectable effect is the
    run's own duration and a 4x smaller (log) effect needs 16x the time; a rate's
    neuron-to-neuron heterogeneity does not average out, so below it no run is long enough."""
    from pynn_microcircuit.analysis.verdicts import time_needed

    rng = np.random.default_rng(3)
    refs = [_stats(rng, corr=0.01) for _ in range(3)]
    for r in refs:
        r["P"]["pooled_correlation"], r["P"]["noise"]["pooled_correlation_sem"] = 0.01, 0.001
    test = _stats(rng, corr=0.02)
    test["P"]["pooled_correlation"], test["P"]["noise"]["pooled_correlation_sem"] = 0.02, 0.002
    cells = verdict_cells(test, refs, correlation_scale=0.5, duration_s=2.0)
    raw = next(c for c in cells if c["statistic"] == "correlation")
    res = next(c for c in cells if c["statistic"] == "correlation_rescaled")
    assert raw["log_scale"] and raw["verdict"] == "differs"
    assert raw["effect_size"] == pytest.approx(1.0, abs=1e-9)
    assert raw["relative_difference"] == pytest.approx(1.0, abs=1e-9)  # not a log over a mean
    assert res["verdict"] == "consistent" and abs(res["effect_size"]) < 1e-9
    mde = raw["min_detectable_effect"]
    assert time_needed(raw, mde, 2.0) == pytest.approx(2.0)
    small = np.expm1(np.log1p(mde) / 4)
    assert time_needed(raw, small, 2.0) == pytest.approx(32.0)
    assert raw["detect_effect"] == 0.5
    assert raw["t_needed_s"] == pytest.approx(2.0 * (raw["z_mde"] * raw["sd"] / np.log(1.5)) ** 2)
    rate = next(c for c in cells if c["statistic"] == "rate")
    counting = (rate["sd"] ** 2 / rate["phi"], 0.0)  # all of it estimation noise
    assert time_needed(rate, rate["min_detectable_effect"], 2.0, counting) == pytest.approx(2.0)
    below = 0.5 * rate["min_detectable_effect"]
    assert time_needed(rate, below, 2.0, counting) == pytest.approx(8.0)
    assert time_needed(rate, below, 2.0, (0.0, 0.0)) == float("inf")  # all heterogeneity


def test_law_factor_one_counts_the_correlation_hypothesis_once():
    """Same scale: the rescaled correlation cell repeats the correlation cell's test, so the
    family has one hypothesis fewer per population for each rescaled statistic (Holm over 4
    instead of 6 here); across
    scales the two are different hypotheses and both count."""
    rng = np.random.default_rng(5)
    refs = [_stats(rng) for _ in range(3)]
    test = _stats(rng, rate=5.3)
    one = {c["statistic"]: c for c in verdict_cells(test, refs, 1.0, control="fwer")}
    assert one["correlation_rescaled"]["p_adjusted"] == one["correlation"]["p_adjusted"]
    assert "counted once" in one["correlation_rescaled"]["note"]
    assert one["synchrony_rescaled"]["p_adjusted"] == one["synchrony"]["p_adjusted"]
    p_others = sorted(c["p_value"] for s, c in one.items() if s not in RESCALED)
    assert one["rate"]["p_adjusted"] == pytest.approx(holm(p_others)[p_others.index(
        one["rate"]["p_value"])])  # fmt: skip
    two = {c["statistic"]: c for c in verdict_cells(test, refs, 2.0, control="fwer")}
    p_all = [c["p_value"] for c in two.values()]
    assert two["rate"]["p_adjusted"] == pytest.approx(holm(p_all)[list(two).index("rate")])
    assert "note" not in two["correlation_rescaled"]
    # Benjamini-Hochberg over the same family: never above Holm's (the default)
    fdr = {c["statistic"]: c for c in verdict_cells(test, refs, 2.0, control="fdr")}
    assert [c["p_adjusted"] for c in fdr.values()] == pytest.approx(adjust(p_all, "fdr"))
    assert all(fdr[s]["p_adjusted"] <= two[s]["p_adjusted"] + 1e-15 for s in two)


def test_tables_leave_out_rescaled_cells_that_repeat_or_have_no_law():
    """Same scale: the printed and HTML tables show the correlation and synchrony once and say
    why; across scales (factor 2) the rescaled cells are hypotheses of their own and are
    shown; without a law (W changes) one line replaces the 'no data' rows."""
    import re

    from pynn_microcircuit.analysis.verdicts import verdict_html_table, verdict_text_table

    rng = np.random.default_rng(5)
    refs = [_stats(rng) for _ in range(3)]
    test = _stats(rng, rate=5.3)
    for scale, shown, said in ((1.0, False, "law factor 1"), (2.0, True, None),
                               (None, False, "no correlation law")):  # fmt: skip
        cells = verdict_cells(test, refs, scale)
        text, page = verdict_text_table(cells), verdict_html_table(cells)
        pops = {c["population"] for c in cells}
        rows = [m[1] for m in re.findall(r"^(\S+) +(\S+) ", text, re.M) if m[0] in pops]
        for stat in RESCALED:
            assert (stat in rows) is shown
            assert (f"<th>{stat}" in page) is shown
        assert len(rows) == len(cells) - (0 if shown else len(RESCALED))
        if said:
            assert said in text.splitlines()[-1] and said in page


def _corr_run(x, sem):
    run = _stats(np.random.default_rng(9))
    run["P"].update(pooled_correlation=x, noise={"pooled_correlation_sem": sem})
    return run


def test_margin_stays_relative_near_zero():
    """A relative margin is relative to the reference mean even when that mean is within a
    few standard deviations of zero: -0.0008 against +0.0001..+0.0007 is not 'equivalent'
    at 20 % (before: the margin became 1.0 absolute and it was)."""
    refs = [_corr_run(x, 4e-4) for x in (1e-4, 4e-4, 7e-4)]
    cells = verdict_cells(_corr_run(-8e-4, 4e-4), refs, 1.0, margins={"correlation": 0.2})
    c = next(c for c in cells if c["statistic"] == "correlation")
    assert c["state"] == "tested" and c["verdict"] != "equivalent"


def test_missing_standard_error_is_no_data_and_zero_sd_keeps_the_sign():
    """A finite statistic without a standard error cannot be tested ('no data', not a
    p = 0 'differs'); a zero standard deviation keeps the sign of the difference."""
    from pynn_microcircuit.analysis.verdicts import cell

    refs = [_corr_run(0.01, 1e-3) for _ in range(3)]
    c = cell(_corr_run(0.01, float("nan"))["P"], [r["P"] for r in refs], "correlation")
    assert c["state"] == "no data" and c["p_value"] is None and c["note"] == "no standard error"
    gone = cell({"pooled_correlation": float("nan"), "noise": {}}, [r["P"] for r in refs],
                "correlation")  # fmt: skip
    assert gone["state"] == "one-sided"  # missing on one side only: a real difference
    flat = [_corr_run(0.01, 0.0)["P"] for _ in range(3)]
    low = cell(_corr_run(0.005, 0.0)["P"], flat, "correlation")
    assert low["z"] == float("-inf") and low["p_value"] == 0.0


def test_log_scale_only_where_the_seed_spread_allows_it():
    """The log scale needs every value > 3 seed-to-seed standard deviations sqrt(phi v): a
    correlation 4 standard errors above zero is on it with phi 1, not with phi 4."""
    from pynn_microcircuit.analysis.verdicts import cell

    refs = [_corr_run(x, 1e-3)["P"] for x in (4.2e-3, 4.0e-3, 4.4e-3)]
    test = _corr_run(4.1e-3, 1e-3)["P"]
    assert cell(test, refs, "correlation", prior=(1.0, 100.0))["log_scale"] is True
    assert cell(test, refs, "correlation", prior=(4.0, 100.0))["log_scale"] is False


def test_both_sides_own_variance_and_welch_df():
    """A test ensemble at another scale keeps its own phi: with the test's prior phi 3 and the
    references' 0.5 (weights 5.5 each), the variance of the difference is
    phi_T v_T / n + phi_R v_R / m and its degrees of freedom Welch-Satterthwaite's, here
    computed by hand from the runs' values."""
    from pynn_microcircuit.analysis.verdicts import cell, overdispersion, welch_df

    xt, xr = [1.0, 1.2, 0.9], [1.1, 1.05, 1.0, 1.08]
    tests = [{"rates_hz": np.array([x - 0.1, x + 0.1])} for x in xt]  # v = 0.02 / 2 each
    refs = [{"rates_hz": np.array([x - 0.1, x + 0.1])} for x in xr]
    c = cell(tests, refs, "rate", prior=(0.5, 5.5), test_prior=(3.0, 5.5))
    v = 0.02 / 2
    phi_t = (5.5 * 3.0 + 2 * overdispersion(xt, [v] * 3)) / 7.5
    phi_r = (5.5 * 0.5 + 3 * overdispersion(xr, [v] * 4)) / 8.5
    a, b = phi_t * v / 3, phi_r * v / 4
    assert c["sd"] == pytest.approx(np.sqrt(a + b))
    assert c["df"] == pytest.approx((a + b) ** 2 / (a**2 / 7.5 + b**2 / 8.5))
    assert c["df"] == pytest.approx(welch_df(a, 7.5, b, 8.5))
    assert c["variance_source"]["test"].startswith("ensemble of 3 seeds")
    one = cell(tests[0], refs, "rate", prior=(0.5, 5.5), test_prior=(3.0, 5.5),
               labels=("conservative bound (largest measured phi)", "measured at n=k=1 2 s"))  # fmt: skip
    assert one["phi_test"] == 3.0  # a single run: its prior alone, never the references' phi
    assert one["variance_source"]["test"].startswith("single run, prior conservative bound")
