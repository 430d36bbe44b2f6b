"""sPyNNaker's weight quanta for a model, computed by sPyNNaker itself in a child process
(:mod:`.quantisation` runs there; sPyNNaker cannot share a process with NEST), for the
planner's resolution line and NEST's SpiNNaker emulation. Importing this module imports no
simulator."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.scaling import ModelSpec

from .capacity import Knobs

log = logging.getLogger(__name__)

#: Run-option destinations -> :class:`.capacity.Knobs` fields.
KNOB_OPTIONS = {
    "neurons_per_core": "neurons_per_core",
    "time_scale_factor": "time_scale_factor",
    "planning_rate": "spikes_per_second",
}


def knobs_from_settings(
    settings: Mapping[str, Any], planned: Mapping[str, Any] | None = None
) -> Knobs:
    """SpiNNaker knobs: a plan's (``planned``, its :data:`pynn_microcircuit.budget.SETTINGS`;
    default :class:`.capacity.Knobs`) with the settings given (``neurons_per_core``,
    ``time_scale_factor``, ``planning_rate`` in Hz, ``no_delay_extensions``) over them; a
    one-line error for a value <= 0."""
    base = Knobs(**planned) if planned else Knobs()
    over: dict = {}
    for option, knob in KNOB_OPTIONS.items():
        v = settings.get(option)
        if v is None:
            continue
        if v <= 0:
            raise UserError(f"--{option.replace('_', '-')} must be > 0, got {v}")
        over[knob] = v
    if settings.get("no_delay_extensions"):
        over["delay_extensions"] = False
    return Knobs(**{**base.to_dict(), **over})


def is_partial(spec: ModelSpec) -> bool:
    """Whether ``spec`` is a linear-k model below k_min (made with ``allow_partial``)."""
    r = spec.residual_variance_rel
    return r is not None and bool(np.any(np.asarray(r) != 0))


def spinnaker_quanta(params: Params, spec: ModelSpec, knobs: Knobs, seed: int) -> dict:
    """The weight quanta sPyNNaker computes for ``spec`` with ``knobs`` (see
    :func:`.quantisation.weight_quanta_pA`), by sPyNNaker on a virtual board in a child
    process."""
    from pynn_microcircuit.modelfile import model_record, write_model

    with tempfile.TemporaryDirectory() as tmp:
        model = write_model(
            Path(tmp) / "model.json",
            model_record(params, spec, is_partial(spec), {}, {"knobs": knobs.to_dict()}),
        )
        out = Path(tmp) / "quanta.json"
        log.info("computing sPyNNaker's weight quanta on a virtual board")
        res = subprocess.run(
            [sys.executable, "-m", "pynn_microcircuit.platforms.spinnaker.quantisation",
             str(model), str(out), str(seed)],
            capture_output=True, text=True,
        )  # fmt: skip
        if res.returncode or not out.is_file():
            last = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"sPyNNaker could not compute the weight quanta: {last}")
        return json.loads(out.read_text())


def emulated_quanta(
    params: Params, spec: ModelSpec, settings: Mapping[str, Any], seed: int
) -> tuple[dict, dict]:
    """The quanta sPyNNaker would use for ``spec`` with the SpiNNaker ``settings`` (see
    :func:`knobs_from_settings`): ``(quanta, emulation record)``."""
    knobs = knobs_from_settings(settings)
    quanta = spinnaker_quanta(params, spec, knobs, seed)
    return quanta, {"platform": "spinnaker", "knobs": knobs.to_dict()}


def quantisation_line(s: dict) -> str:
    """One plan line for a :func:`pynn_microcircuit.quantisation.summary`: the quanta's range,
    the largest input errors, and a flag beyond its tolerance."""
    qs = [q[t] for q in s["weight_quantum_pA"].values() for t in ("excitatory", "inhibitory")]
    tol = 100 * s["tolerance"]
    flag = (
        f" (within the {tol:g} % tolerance)"
        if s["within_tolerance"]
        else f" - beyond the {tol:g} % tolerance: lower --planning-rate or check with "
        "--platform nest --emulate spinnaker"
    )
    return (
        f"weight resolution (sPyNNaker's ring-buffer shifts): quanta {min(qs):.3g}-"
        f"{max(qs):.3g} pA; input mean changes by up to "
        f"{100 * s['max_input_mean_rel_error']:.2g} % of the drive, variance by up to "
        f"{100 * s['max_input_variance_rel_error']:.2g} %{flag}"
    )
