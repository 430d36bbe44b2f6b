import time

import numpy as np
import pytest

from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import make_spec
from pynn_microcircuit.theory import (
    correlation_factor,
    correlation_law,
    correlation_note,
    effective_connectivity,
    effective_connectivity_ratio,
    input_moments,
    self_consistent_rates,
    siegert,
    w_ratio,
)

P = Params()
NU = np.asarray(P.full_rates_hz)
FULL = make_spec(P, 1.0, 1.0)
MU_FULL, S2_FULL = input_moments(FULL, NU)


def _rel(spec):
    mu, s2 = input_moments(spec, NU)
    return np.abs(mu / MU_FULL - 1), np.abs(np.sqrt(s2 / S2_FULL) - 1)


@pytest.mark.parametrize(
    "method, n, k",
    [
        ("sqrt-k", 1.0, 0.5),
        ("sqrt-k", 1.0, 0.1),
        ("sqrt-k", 0.1, 0.1),
        ("sqrt-k", 0.5, 0.5),
        ("linear-k", 1.0, 0.95),
        ("linear-k", 0.3, 0.95),
        ("n", 0.1, 1.0),
        ("n", 0.37, 1.0),
    ],
)
def test_compensations_keep_mu_and_sigma(method, n, k):
    # what remains is the rounding of neuron and synapse counts (largest seen: ~2e-4)
    d_mu, d_sigma = _rel(make_spec(P, n, k, method=method))
    assert d_mu.max() < 1e-3 and d_sigma.max() < 1e-3


def test_no_compensation_changes_mu_by_more_than_10_percent():
    d_mu, _ = _rel(make_spec(P, 1.0, 0.5, method="none"))
    assert d_mu.max() > 0.10


def test_full_scale_mean_field_rates_and_speed():
    t0 = time.process_time()
    rates = self_consistent_rates(FULL)
    assert time.process_time() - t0 < 1.0
    np.testing.assert_allclose(rates, [0.75, 2.79, 4.44, 5.82, 7.15, 8.47, 1.16, 7.76], atol=0.05)


def test_siegert_limits():
    nr = FULL.neuron
    # far below threshold with little noise: silent; suprathreshold noiseless: deterministic LIF
    assert siegert([0.0], [0.5], nr)[0] < 1e-12
    mu = 20.0  # mV above rest, threshold at 15 mV
    expected = 1.0 / (2e-3 + 10e-3 * np.log(mu / (mu - 15.0)))
    assert siegert([mu], [0.0], nr)[0] == pytest.approx(expected)
    # more noise raises the rate of a subthreshold neuron
    assert siegert([10.0], [4.0], nr)[0] > siegert([10.0], [2.0], nr)[0]


def test_effective_connectivity_and_correlation_factor():
    sk = make_spec(P, 1.0, 0.25, method="sqrt-k")
    ratio = effective_connectivity_ratio(sk, FULL)
    assert np.nanmax(np.abs(ratio[np.isfinite(ratio)] - 0.5)) < 5e-3
    lk = make_spec(P, 1.0, 0.95, method="linear-k")
    assert np.nanmax(np.abs(effective_connectivity_ratio(lk, FULL) - 1)) < 5e-3
    # 1/n wherever W = K J is kept (van Albada et al. 2015), none where W changes
    assert correlation_factor(make_spec(P, 0.1, 1.0)) == pytest.approx(10.0)
    assert correlation_factor(make_spec(P, 0.5, 0.95, method="linear-k")) == pytest.approx(2.0)
    assert correlation_factor(make_spec(P, 1.0, 1.0)) == pytest.approx(1.0)
    assert correlation_factor(make_spec(P, 0.2, 0.2, method="sqrt-k")) is None
    assert correlation_factor(make_spec(P, 0.5, 0.5, method="none")) is None
    assert "W = K J differs" in correlation_note(make_spec(P, 0.2, 0.2, method="sqrt-k"))
    # equal W at different N: e.g. sqrt-k at n = 0.05 vs n = 0.1, same k
    factor, _ = correlation_law(0.05, w_ratio("sqrt-k", 0.1), 0.1, w_ratio("sqrt-k", 0.1))
    assert factor == pytest.approx(2.0)


def test_effective_connectivity_eigenvalues_follow_w():
    """N-scaling keeps the linearised dynamics exactly (same W, same rates); sqrt-k moves the
    spectrum (van Albada et al. 2015)."""
    from pynn_microcircuit.budget import eigenvalue_shift

    full = np.linalg.eigvals(effective_connectivity(FULL))
    n_scaled = np.linalg.eigvals(effective_connectivity(make_spec(P, 0.1, 1.0, method="n")))
    sk = np.linalg.eigvals(effective_connectivity(make_spec(P, 0.2, 0.2, method="sqrt-k")))
    assert eigenvalue_shift(full, n_scaled) < 1e-3
    assert eigenvalue_shift(full, sk) > 1.0
    assert full.real.max() < 1  # the full-scale fixed point is linearly stable
