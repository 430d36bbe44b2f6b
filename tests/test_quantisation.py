"""Input errors of quantised weights (pynn_microcircuit/quantisation.py): pure maths."""

import numpy as np
import pytest

from pynn_microcircuit.params import Params
from pynn_microcircuit.quantisation import input_errors, quantised_moments
from pynn_microcircuit.scaling import make_spec


def test_fine_quantum_follows_sheppard():
    """Rounding to a quantum q much finer than the spread adds q^2/12 to E[w^2] (Sheppard's
    correction) and leaves the mean; the sign of inhibitory weights is kept."""
    e1, e2, q1, q2 = quantised_moments(87.8, 8.78, 2.0)
    assert q1 == pytest.approx(e1, rel=1e-6)
    assert q2 - e2 == pytest.approx(2.0**2 / 12, rel=1e-3)
    e1, _, q1, _ = quantised_moments(-351.2, 35.1, 4.0)
    assert e1 < 0 and q1 == pytest.approx(e1, rel=1e-5)


def test_coarse_quantum_against_sampling():
    """A quantum near the weight's size: the exact bin sums agree with rounding samples of
    the sign-truncated normal (seeded, 2e6 draws)."""
    rng = np.random.default_rng(7)
    w = rng.normal(50.0, 40.0, 4_000_000)
    w = w[w >= 0][:2_000_000]
    q = 30.0
    wq = q * np.rint(w / q)
    e1, e2, q1, q2 = quantised_moments(50.0, 40.0, q)
    assert (e1, e2) == pytest.approx((w.mean(), (w**2).mean()), rel=2e-3)
    assert (q1, q2) == pytest.approx((wq.mean(), (wq**2).mean()), rel=2e-3)


def test_input_errors_grow_with_the_quantum():
    """The fixed external weight rounds deterministically (error up to q / 2w, ~6e-4 for
    q = 0.1 pA); a 40 pA quantum moves the input variance at least 10x more."""
    spec = make_spec(Params(), 0.1, 0.1)
    fine = {p: {"excitatory": 0.1, "inhibitory": 0.1} for p in spec.populations}
    coarse = {p: {"excitatory": 40.0, "inhibitory": 40.0} for p in spec.populations}
    f, c = input_errors(spec, fine), input_errors(spec, coarse)
    for p in spec.populations:
        assert abs(f[p]["input_variance_rel_error"]) < 1.2e-3
        assert abs(f[p]["input_mean_rel_error"]) < 1.2e-3
        assert abs(c[p]["input_variance_rel_error"]) > 10 * abs(f[p]["input_variance_rel_error"])
