"""Calibrated verdicts (analysis/verdicts.py) on synthetic statistics with known truth."""

import numpy as np
import pytest

from analysis.verdicts import holm, parse_margins, verdict_cells
from pynn_microcircuit.errors import UserError


def _stats(rng, rate=5.0, n=2000, corr=0.01):
    """One population's statistics: rates of n neurons, CVs, correlations and synchrony at
    the sizes the analysis uses, with sampling noise of the stated size."""
    return {
        "P": {
            "rates_hz": rng.gamma(4.0, rate / 4.0, n),
            "cv_isi": rng.normal(0.8, 0.1, n),
            "correlations": rng.normal(corr, 0.02, 5000),
            "noise": {"mean_correlation_sem": 0.02 / np.sqrt(500)},
            "sync_sizes": np.array([100.0, 500.0]),
            "sync_values": np.array([1.5, 3.0]) + rng.normal(0, 0.05, 2),
            "sync_sems": np.array([0.05, 0.05]),
        }
    }


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_same_model_consistent_and_a_large_change_differs():
    rng = np.random.default_rng(0)
    refs = [_stats(rng) for _ in range(3)]
    same = verdict_cells(_stats(rng), refs, correlation_scale=1.0)
    assert all(c["verdict"] == "consistent" for c in same)
    hot = verdict_cells(_stats(rng, rate=7.0), refs, correlation_scale=1.0)
    rate = next(c for c in hot if c["statistic"] == "rate")
    assert rate["verdict"] == "differs" and rate["effect_size"] == pytest.approx(0.4, abs=0.06)
    assert rate["min_detectable_effect"] < 0.4  # what it could see, stated in the cell
    assert 0 <= rate["p_value"] <= rate["p_holm"] < 0.05


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
