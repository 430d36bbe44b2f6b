"""The planner's measured fidelity (pynn_microcircuit/atlas.py): which figure a plan states,
from where, with which interval; and the shipped atlas against the planner's statements."""

import math

import pytest

from pynn_microcircuit import atlas


def _cell(method, n, k, rate, corr, se=0.02):
    pops = {"A": {"deviation": rate, "se": se, "reference": 4.0},
            "B": {"deviation": rate / 2, "se": se, "reference": 0.2}}  # fmt: skip
    return {"method": method, "n_scale": n, "k_scale": k, "seeds": 3,
            "statistics": {"rate": pops,
                           "correlation": {"A": {"deviation": corr, "se": se, "reference": 0.01}},
                           "cv_isi": {}, "synchrony": {}}}  # fmt: skip


DATA = {"cells": [_cell("sqrt-k", 0.05, 0.05, -0.4, 1.0), _cell("sqrt-k", 0.2, 0.2, -0.1, 0.5),
                  _cell("n", 0.2, 1.0, -0.3, 3.0)]}  # fmt: skip


def test_measured_interpolated_and_theory():
    got = atlas.fidelity_at("sqrt-k", 0.2, 0.2, DATA)
    assert got["rate"]["source"] == "measured" and got["rate"]["value"] == -0.1
    assert got["rate"]["interval"] == pytest.approx([-0.14, -0.06])
    assert got["rate"]["population"] == "A"  # B fires below 0.5 Hz at full scale: left out
    mid = atlas.fidelity_at("sqrt-k", 0.1, 0.1, DATA)  # halfway in log n
    assert mid["rate"]["source"] == "interpolated"
    x = 0.5 * math.log1p(-0.4) + 0.5 * math.log1p(-0.1)
    assert mid["rate"]["value"] == pytest.approx(math.expm1(x))
    lo, hi = mid["rate"]["interval"]
    gap = abs(math.log1p(-0.1) - math.log1p(-0.4)) / 2  # half the neighbours' gap, added
    lo_x = 0.5 * math.log1p(-0.44) + 0.5 * math.log1p(-0.14) - gap  # the neighbours' 2-SE bounds
    hi_x = 0.5 * math.log1p(-0.36) + 0.5 * math.log1p(-0.06) + gap
    assert (lo, hi) == pytest.approx((math.expm1(lo_x), math.expm1(hi_x)))
    for method, n, k in (("sqrt-k", 0.5, 0.5), ("n", 0.1, 1.0), ("linear-k", 0.1, 0.1)):
        assert atlas.fidelity_at(method, n, k, DATA)["rate"]["source"] == "theory"
    assert "theory only" in atlas.describe(atlas.fidelity_at("sqrt-k", 0.5, 0.5, DATA))
    assert "measured at n=0.2" in atlas.describe(got)


def test_leave_one_out_excludes_the_cell():
    got = atlas.fidelity_at("sqrt-k", 0.2, 0.2, DATA, exclude=("sqrt-k", 0.2, 0.2))
    assert got["rate"]["source"] == "theory"


def test_plans_state_the_shipped_atlas():
    """What plan says for its model is what the shipped atlas holds for that cell."""
    from pynn_microcircuit.budget import parse_budget, plan
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.nest.capacity import predict

    shipped = atlas.load()
    if not shipped["cells"]:
        pytest.fail("no atlas shipped (pynn_microcircuit/fidelity_atlas.json)")

    def capacity(spec, budget):
        return predict(spec, threads=budget.get("threads"), t_presim_ms=500.0, t_sim_ms=1000.0)

    p = plan("nest", parse_budget("memory=2GiB", "nest"), capacity, Params())
    expected = atlas.fidelity_at(p.method, p.n_scale, p.k_scale, shipped)
    assert p.fidelity_by_statistic == expected
    assert set(expected) == {"rate", "cv_isi", "correlation", "synchrony"}
    line = next(x for x in p.explanation if "fidelity" in x and ("measured" in x or "none" in x))
    for stat, f in expected.items():
        if f["source"] != "theory":
            assert stat in line and f["source"] in {"measured", "interpolated"}


def test_the_report_puts_the_plans_figures_beside_the_measured_ones():
    from pynn_microcircuit.analysis.report import planned_vs_measured

    plan = {"fidelity_by_statistic": atlas.fidelity_at("sqrt-k", 0.2, 0.2, DATA)}
    cells = [{"statistic": "rate", "population": "A", "effect_size": -0.12},
             {"statistic": "rate", "population": "B", "effect_size": 0.05}]  # fmt: skip
    html = planned_vs_measured(plan, cells)
    assert "-10.0 % [-14.0 %, -6.0 %] (measured)" in html and "-12.0 % (A)" in html
    assert "theory only" in html  # synchrony: nothing in DATA
    assert "not made from a plan" in planned_vs_measured(None, cells)
