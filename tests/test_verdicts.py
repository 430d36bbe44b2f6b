"""Calibrated verdicts (analysis/verdicts.py) on synthetic statistics with known truth."""

import numpy as np
import pytest

from pynn_microcircuit.analysis.verdicts import adjust, holm, parse_margins, verdict_cells
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
    with pytest.raises(ValueError, match="fdr, fwer"):
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


def test_measured_prior_covers_pd14_and_generic_elsewhere():
    from pynn_microcircuit.analysis.verdicts import (
        PHI_PRIOR,
        PRIOR_DF,
        measured_prior,
        prior_for,
        prior_name,
    )

    pd14 = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    prior = measured_prior()
    assert prior["df"] == 11.5  # 24 seeds, half the nominal weight
    for stat in ("rate", "cv_isi", "correlation", "synchrony"):
        assert sorted(prior["phi"][stat]) == sorted(pd14)
        assert all(v > 0 for v in prior["phi"][stat].values())
    assert prior_name(pd14, 0.1, 0.1) == "measured"
    assert prior_name(["L23E", "L23I"], 0.1, 0.1) == "generic"  # another network
    assert prior_name(pd14, 1.0, 1.0) == prior_name(pd14) == "generic"  # another scale
    assert prior_for("correlation_rescaled", "L4E", prior) == (
        prior["phi"]["correlation"]["L4E"],
        11.5,
    )
    assert prior_for("rate", "P", prior) == (PHI_PRIOR["rate"], PRIOR_DF)
    assert prior_for("rate", "L4E") == (PHI_PRIOR["rate"], PRIOR_DF)  # never measured by default


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
    family has one hypothesis fewer per population (Holm over 4 instead of 5 here); across
    scales the two are different hypotheses and both count."""
    rng = np.random.default_rng(5)
    refs = [_stats(rng) for _ in range(3)]
    test = _stats(rng, rate=5.3)
    one = {c["statistic"]: c for c in verdict_cells(test, refs, 1.0, control="fwer")}
    assert one["correlation_rescaled"]["p_adjusted"] == one["correlation"]["p_adjusted"]
    assert "counted once" in one["correlation_rescaled"]["note"]
    p_others = sorted(c["p_value"] for s, c in one.items() if s != "correlation_rescaled")
    assert one["rate"]["p_adjusted"] == pytest.approx(holm(p_others)[p_others.index(
        one["rate"]["p_value"])])  # fmt: skip
    two = {c["statistic"]: c for c in verdict_cells(test, refs, 2.0, control="fwer")}
    p_all = [c["p_value"] for c in two.values()]
    assert two["rate"]["p_adjusted"] == pytest.approx(holm(p_all)[list(two).index("rate")])
    assert "note" not in two["correlation_rescaled"]
    # the default control, Benjamini-Hochberg, over the same family: never above Holm's
    fdr = {c["statistic"]: c for c in verdict_cells(test, refs, 2.0)}
    assert [c["p_adjusted"] for c in fdr.values()] == pytest.approx(adjust(p_all, "fdr"))
    assert all(fdr[s]["p_adjusted"] <= two[s]["p_adjusted"] + 1e-15 for s in two)


def test_tables_leave_out_rescaled_cells_that_repeat_or_have_no_law():
    """Same scale: the printed and HTML tables show the correlation once and say why; across
    scales (factor 2) the rescaled cell is a hypothesis of its own and is shown; without a
    law (W changes) one line replaces the 'no data' rows."""
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
        assert ("correlation_rescaled" in rows) is shown
        assert ("<th>correlation_rescaled" in page) is shown
        assert len(rows) == len(cells) - (0 if shown else 1)
        if said:
            assert said in text.splitlines()[-1] and said in page
