"""The model file a job carries rebuilds the identical model, and nothing else runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.modelfile import fingerprint, model_record, read_model, write_model
from pynn_microcircuit.params import params_with_overrides
from pynn_microcircuit.scaling import make_spec

ROOT = Path(__file__).resolve().parents[1]
RUN = {"t_presim_ms": 500.0, "t_sim_ms": 1000.0, "seeds": [1, 2], "record_fraction": 0.5}
KNOBS = {"knobs": {"neurons_per_core": 64, "time_scale_factor": 1, "spikes_per_second": 30.0, "delay_extensions": True}}  # fmt: skip


def _model(tmp_path):
    params = params_with_overrides({"bg_rate_hz": 8.5, "neuron": {"tau_syn_ms": 0.6}})
    spec = make_spec(params, 0.3, 0.2, method="sqrt-k", input="dc", rates_hz=[1.0] * 8)
    path = write_model(tmp_path / "model.json", model_record(params, spec, False, RUN, KNOBS))
    return params, spec, path


def test_model_file_rebuilds_the_identical_spec(tmp_path):
    params, spec, path = _model(tmp_path)
    p2, spec2, run, settings, fp = read_model(path)
    assert p2 == params and run == RUN and settings == KNOBS
    assert fp == fingerprint(spec, RUN, KNOBS) == json.loads(path.read_text())["fingerprint"]
    assert json.dumps(spec2.to_dict(), sort_keys=True) == json.dumps(spec.to_dict(), sort_keys=True)
    with pytest.raises(UserError, match="exists; nothing overwritten"):
        write_model(path, {})


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("spec_args", "n_scale"), 0.31),
        (("params", "bg_rate_hz"), 8.0),
        (("run", "t_sim_ms"), 2000.0),
        (("settings", "knobs", "neurons_per_core"), 128),
        (("spec_args", "rates_hz"), [1.1] * 8),
    ],
)
def test_tampered_model_file_is_refused(tmp_path, where, value):
    _, _, path = _model(tmp_path)
    rec = json.loads(path.read_text())
    node = rec
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match="does not rebuild the model it was made for") as err:
        read_model(path)
    assert "\n" not in str(err.value)


def test_corrupt_model_file_is_one_line(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(UserError, match="corrupt or incomplete"):
        read_model(tmp_path / "m.json")
    with pytest.raises(UserError, match="not found"):
        read_model(tmp_path / "none.json")


def test_cli_refuses_model_options_next_to_a_model_file(tmp_path):
    _, _, path = _model(tmp_path)
    for extra in (["--n-scale", "0.5"], ["--fingerprint", "0" * 64]):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "--platform", "spinnaker", "--model", str(path), *extra],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert ("drop --n-scale" in proc.stderr) or ("not the model this job" in proc.stderr)


def test_fingerprint_resolves_small_changes_and_ignores_the_last_bit():
    """A change in the 6th significant digit of a parameter is another model (another
    fingerprint); a change in the last bit of a float (NumPy builds may differ there) is
    not."""
    import numpy as np

    base = params_with_overrides({"bg_rate_hz": 8.0})
    fp = fingerprint(make_spec(base, 0.1, 0.1), RUN, KNOBS)
    close = params_with_overrides({"bg_rate_hz": 8.00001})  # 1.25e-6 relative
    assert fingerprint(make_spec(close, 0.1, 0.1), RUN, KNOBS) != fp
    last_bit = params_with_overrides({"bg_rate_hz": float(np.nextafter(8.0, 9.0))})
    assert fingerprint(make_spec(last_bit, 0.1, 0.1), RUN, KNOBS) == fp
