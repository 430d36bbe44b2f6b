import numpy as np
import pytest

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import full_in_degrees, linear_k_min, make_spec

P = Params()


def test_full_scale_counts():
    spec = make_spec(P, 1.0, 1.0)
    assert spec.total_neurons == 77_169
    assert spec.total_synapses == 298_880_968
    assert spec.method == "n"
    assert np.all(spec.dc_pA == 0)


@pytest.mark.parametrize("n", [0.5, 0.2, 0.1, 0.05])
def test_n_scaling_keeps_in_degrees_and_weights(n):
    full = make_spec(P, 1.0, 1.0)
    spec = make_spec(P, n, 1.0, method="n")
    # rounding S to an integer changes K by at most 0.5 / N_target
    tol = 0.5 / spec.n_neurons[:, None] + 1e-12
    assert np.all(np.abs(spec.in_degree - full_in_degrees(P)) <= tol)
    np.testing.assert_array_equal(spec.weight_mean_pA, full.weight_mean_pA)
    np.testing.assert_array_equal(spec.ext_rate_hz, full.ext_rate_hz)
    assert np.all(spec.dc_pA == 0)


def test_sqrt_k_dc_matches_design_table():
    # DESIGN 3b, k = 0.5
    spec = make_spec(P, 1.0, 0.5, method="sqrt-k")
    np.testing.assert_allclose(
        spec.dc_pA, [12.44, 48.13, 48.39, 49.26, 53.72, 64.97, 18.78, 65.84], atol=0.006
    )
    np.testing.assert_allclose(
        spec.weight_mean_pA * np.sqrt(0.5), make_spec(P, 1, 1).weight_mean_pA
    )


def test_dc_input_replaces_poisson_mean():
    spec = make_spec(P, 0.1, 0.1, input="dc")
    poisson = make_spec(P, 0.1, 0.1)
    assert np.all(spec.ext_rate_hz == 0)
    extra = 1e-3 * 0.5 * poisson.ext_weight_pA * poisson.ext_rate_hz
    np.testing.assert_allclose(spec.dc_pA, poisson.dc_pA + extra)


def test_weights_keep_sign_structure():
    w = make_spec(P, 1, 1).weight_mean_pA
    exc = P.excitatory()
    assert np.all(w[:, exc] > 0) and np.all(w[:, ~exc] < 0)
    assert w[0, 2] == pytest.approx(2 * w[0, 0])  # L4E -> L23E doubled


def test_linear_k_refuses_below_k_min_naming_population():
    with pytest.raises(UserError) as exc:
        make_spec(P, 1.0, 0.5, method="linear-k")
    msg = str(exc.value)
    assert "L23E (k_min 0.90)" in msg and "allow_partial=True" in msg
    kmin = linear_k_min(P)
    assert kmin[0] == pytest.approx(0.90, abs=0.005)
    assert kmin[-1] == pytest.approx(0.79, abs=0.005)


def test_linear_k_partial_records_residual():
    """The residual is what the built model's input variance has in excess of full scale,
    relative to full scale: computed here from the two specs' own numbers (theory's input
    moments of each ModelSpec, at the compensation rates), not from the scaling formula."""
    from pynn_microcircuit.theory import input_moments

    spec = make_spec(P, 1.0, 0.5, method="linear-k", allow_partial=True)
    full = make_spec(P, 1.0, 1.0)
    assert np.all(spec.ext_rate_hz == 0)
    _, var_spec = input_moments(spec, spec.rates_for_compensation_hz)
    _, var_full = input_moments(full, spec.rates_for_compensation_hz)
    excess = var_spec / var_full - 1.0
    assert np.all(excess > 0.1)  # dropping all external noise does not make up for 1/k
    np.testing.assert_allclose(spec.residual_variance_rel, excess, rtol=0.02)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_scale=0, k_scale=1), "n_scale must be a number in (0, 1]"),
        (dict(n_scale=1.5, k_scale=1), "n_scale must be a number in (0, 1]"),
        (dict(n_scale=1, k_scale=0.5, method="n"), "method 'n' keeps in-degrees"),
        (dict(n_scale=1, k_scale=1, method="magic"), "unknown scaling method 'magic'"),
        (dict(n_scale=1e-5, k_scale=1), "leaves no neurons in"),
    ],
)
def test_bad_scaling_requests(kwargs, message):
    with pytest.raises(UserError) as exc:
        make_spec(P, **kwargs)
    assert message in str(exc.value)


def test_spec_to_dict_is_json_serialisable():
    import json

    d = make_spec(Params(thalamus=Params().thalamus.__class__(enabled=True)), 0.1, 0.1).to_dict()
    s = json.dumps(d)
    assert '"total_synapses"' in s and d["thalamus"]["n_neurons"] == 902
