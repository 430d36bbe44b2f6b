"""The model of a run as one file: everything needed to rebuild the identical ModelSpec
elsewhere (an EBRAINS job, a cluster), with a fingerprint that proves it was.

``model.json`` holds the full parameter set, the arguments of
:func:`pynn_microcircuit.scaling.make_spec` with the compensation rates resolved to numbers
(a ``--rates RUN_DIR`` needs no run directory on the other side), the run options (times,
seeds, recorded fraction) and the platform settings (e.g. SpiNNaker's knobs). Its
``fingerprint`` is a SHA-256 over the *derived* model (``ModelSpec.to_dict``) plus run
options and settings, in a canonical JSON form with floats rounded to 12 significant digits
(so NumPy builds that differ in the last bit agree). :func:`read_model` rebuilds the spec and
refuses a file whose rebuilt fingerprint differs: a hand-edited or corrupted model file
cannot run silently as something else. Pure Python, no simulator import.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import UserError
from .params import Params, params_with_overrides
from .scaling import ModelSpec, make_spec

MODEL_FILE = "model.json"
FORMAT_VERSION = 1
#: make_spec arguments stored in the file.
SPEC_ARGS = ("n_scale", "k_scale", "method", "input", "allow_partial", "rates_hz", "rates_source")


def _canonical(obj):
    if isinstance(obj, float):
        return float(f"{obj:.12g}")
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def fingerprint(spec: ModelSpec, run: dict, settings: dict) -> str:
    """SHA-256 (hex) of the derived model, run options and platform settings."""
    payload = {"spec": spec.to_dict(), "run": run, "settings": settings}
    text = json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def spec_arguments(spec: ModelSpec, allow_partial: bool) -> dict:
    """The make_spec arguments that rebuild ``spec`` (compensation rates as numbers)."""
    return {
        "n_scale": float(spec.n_scale),
        "k_scale": float(spec.k_scale),
        "method": spec.method,
        "input": spec.input,
        "allow_partial": bool(allow_partial),
        "rates_hz": [float(r) for r in spec.rates_for_compensation_hz],
        "rates_source": spec.rates_source,
    }


def model_record(
    params: Params, spec: ModelSpec, allow_partial: bool, run: dict, settings: dict
) -> dict:
    """The content of ``model.json`` for ``spec`` built from ``params``.

    Parameters
    ----------
    run : dict
        Run options: ``t_presim_ms``, ``t_sim_ms`` (ms), ``seeds`` (list of int),
        ``record_fraction``.
    settings : dict
        Platform settings that change what runs (e.g. SpiNNaker knobs).
    """
    return {
        "format_version": FORMAT_VERSION,
        "params": params.to_dict(),
        "spec_args": spec_arguments(spec, allow_partial),
        "run": run,
        "settings": settings,
        "fingerprint": fingerprint(spec, run, settings),
    }


def write_model(path: str | Path, record: dict) -> Path:
    """Write ``record`` to ``path`` (never over an existing file)."""
    path = Path(path)
    if path.exists():
        raise UserError(f"model file '{path}' exists; nothing overwritten")
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def locate_model(name: str | Path, fingerprint: str, folders=(".", "..")) -> Path:
    """The model file of a job: ``name`` if it exists, else the one JSON file in ``folders``
    whose stored fingerprint is ``fingerprint``.

    A job cloned from git runs in ``<working dir>/<repository>`` while the platform's runner
    saves the job's input files in ``<working dir>`` under a name taken from the download's
    ``Content-Disposition`` header or the URL's last path segment
    (JavaSpiNNaker ``SpiNNaker-nmpiexec/.../utils/FileDownloader.java``, ``getTargetFile``):
    the name is not ours to choose, the fingerprint is.
    """
    path = Path(name)
    if path.is_file():
        return path
    for folder in map(Path, folders):
        for candidate in sorted(folder.glob("*")) if folder.is_dir() else ():
            if not candidate.is_file() or candidate.stat().st_size > 2**20:
                continue
            try:
                if json.loads(candidate.read_text()).get("fingerprint") == fingerprint:
                    return candidate
            except (ValueError, UnicodeDecodeError, AttributeError):
                continue
    raise UserError(
        f"model file '{name}' not found, nor a file with fingerprint {fingerprint[:12]} in "
        f"{', '.join(map(str, folders))}; prepare the job again"
    )


def read_model(path: str | Path) -> tuple[Params, ModelSpec, dict, dict, str]:
    """Rebuild (params, spec, run options, settings, fingerprint) from a model file.

    Raises
    ------
    UserError
        One line when the file is missing, not JSON, incomplete, or its rebuilt model does
        not match its fingerprint.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file '{path}' not found; pass the job's {MODEL_FILE}")
    text = path.read_text()
    try:
        rec = json.loads(text)
        params = params_with_overrides(rec["params"])
        args = {k: rec["spec_args"][k] for k in SPEC_ARGS}
        run, settings, stored = rec["run"], rec["settings"], rec["fingerprint"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(
            f"model file '{path}' is corrupt or incomplete ({type(exc).__name__}: {exc}); "
            "prepare the job again"
        ) from None
    spec = make_spec(params, **args)
    actual = fingerprint(spec, run, settings)
    if actual != stored:
        raise UserError(
            f"model file '{path}' does not rebuild the model it was made for (fingerprint "
            f"{actual[:12]} != {str(stored)[:12]}); it was edited or damaged - prepare the "
            "job again instead of editing it"
        )
    return params, spec, run, settings, actual
