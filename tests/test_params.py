import math

import pytest

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params, load_params, params_with_overrides, psc_over_psp


def test_psc_over_psp_matches_published_conversion():
    # DESIGN 2: 585.39 pA per mV, J_E = 87.81 pA for 0.15 mV
    p = Params()
    assert psc_over_psp(p.neuron) == pytest.approx(585.39, abs=0.01)
    assert 0.15 * psc_over_psp(p.neuron) == pytest.approx(87.81, abs=0.01)


def test_psc_over_psp_equal_time_constants_limit():
    from pynn_microcircuit.params import NeuronParams

    near = psc_over_psp(NeuronParams(tau_syn_ms=10.0 - 1e-6))
    same = psc_over_psp(NeuronParams(tau_syn_ms=10.0))
    assert same == pytest.approx(near, rel=1e-5)
    assert math.isfinite(same)


def test_overrides_nested_and_typed():
    p = params_with_overrides({"bg_rate_hz": 10, "neuron": {"C_m_pF": 200}})
    assert p.bg_rate_hz == 10.0 and p.neuron.C_m_pF == 200.0
    assert Params().bg_rate_hz == 8.0  # the default is untouched


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"bg_rat": 8}, "unknown config key 'bg_rat'"),
        ({"neuron": {"Cm": 1}}, "unknown config key 'neuron.Cm'"),
        ({"n_full": [1, 2, 3]}, "parameter 'n_full' has 3 values; expected one per population"),
        ({"n_full": [-1, 1, 1, 1, 1, 1, 1, 1]}, "'n_full' has a negative value"),
        ({"full_rates_hz": [1, 1, 1, 1, 1, 1, 1, -2]}, "'full_rates_hz' has a negative value"),
        ({"bg_rate_hz": -8}, "'bg_rate_hz' must be > 0"),
        ({"bg_rate_hz": "fast"}, "config key 'bg_rate_hz': cannot read 'fast' as float"),
        ({"conn_probs": [[0.1] * 8] * 7}, "'conn_probs' must be a 8x8"),
        ({"n_full": [1.5, 1, 1, 1, 1, 1, 1, 1]}, "cannot read 1.5 as int"),
        ({"neuron": 3}, "config section 'neuron' must be a mapping"),
    ],
)
def test_validation_errors_are_one_line_and_name_the_key(overrides, message):
    with pytest.raises(UserError) as exc:
        params_with_overrides(overrides)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_params_yaml(tmp_path):
    f = tmp_path / "my.yaml"
    f.write_text("bg_rate_hz: 9\nthalamus:\n  enabled: true\n")
    p = load_params(f)
    assert p.bg_rate_hz == 9.0 and p.thalamus.enabled is True


def test_load_params_bad_yaml_and_missing(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("bg_rate_hz: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(f)
    with pytest.raises(UserError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_seed_word_is_numpys_seed_sequence():
    """The run's seeds are NumPy's SeedSequence output, computed without numpy.random: equal
    for single and multi-word entropy (values >= 2**32 split into words), more than the pool's
    4 words, and zero; negative entropy is refused as NumPy refuses it."""
    import numpy as np

    from pynn_microcircuit.network import substream_seed
    from pynn_microcircuit.seeds import seed_word

    rng = np.random.default_rng(3)
    cases = [[0], [1, 0x4E57], [2**32], [2**64 + 5, 3, 7], [5, 6, 7, 8, 9, 10]]
    cases += [rng.integers(0, 2**62, size=rng.integers(1, 7)).tolist() for _ in range(200)]
    for entropy in cases:
        assert seed_word(entropy) == int(np.random.SeedSequence(entropy).generate_state(1)[0])
    ss = np.random.SeedSequence([7, 0x4E57])
    assert substream_seed(7, 0x4E57) == int(ss.generate_state(1)[0] % (2**31 - 1)) + 1
    with pytest.raises(ValueError, match="non-negative"):
        seed_word([-1])


def test_population_roles_are_stated_not_read_from_names():
    """Renaming populations keeps their roles (before: a name not ending in E made an
    excitatory population inhibitory, silently); roles must be E or I, one per population;
    weight and delay spreads must be positive."""
    import numpy as np

    from pynn_microcircuit.params import Params, params_with_overrides
    from pynn_microcircuit.scaling import make_spec

    renamed = params_with_overrides({"populations": ["a", "b", "c", "d", "e", "f", "g", "h"]})
    assert list(renamed.excitatory()) == list(Params().excitatory())
    spec, ref = make_spec(renamed, 0.1, 0.1), make_spec(Params(), 0.1, 0.1)
    np.testing.assert_array_equal(spec.weight_mean_pA, ref.weight_mean_pA)
    for bad, message in (({"population_roles": ["E"] * 7}, "'E' or 'I' for each of the 8"),
                         ({"population_roles": ["E", "X"] * 4}, "'E' or 'I'"),
                         ({"weight_rel_sd": 0.0}, "'weight_rel_sd' must be > 0"),
                         ({"delay_rel_sd": -0.1}, "'delay_rel_sd' must be > 0")):  # fmt: skip
        with pytest.raises(UserError, match=message):
            params_with_overrides(bad)


def test_bad_input_is_a_value_error_for_library_callers():
    with pytest.raises(ValueError, match="must be > 0"):
        params_with_overrides({"bg_rate_hz": -1.0})
