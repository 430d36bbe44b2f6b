"""Capacity model of the NEURON path: memory and wall time a ModelSpec needs.

Linear models fitted by non-negative least squares (``benchmarks/neuron_capacity.py``, which
writes ``capacity.json`` beside this module with the runs, versions and machine) to runs of
the package's own NEURON path (one process, PyNN 0.13's generic route, NEURON 9):

* peak memory ``m0 + m_N N + m_S S`` (bytes; N neurons, S synapses: PyNN's NEURON backend
  holds a NetCon per synapse and a section, a ``ResetRefrac`` and two ``ExpISyn`` point
  processes per cell; the Poisson drive adds a ``NetStimFD`` and a NetCon per cell);
* build time ``b0 + b_N N + b_S S`` (s; PyNN creates each NetCon from Python);
* simulation wall time per simulated second ``c_N N + c_E E + c_NE N E`` (s; every cell
  integrated each 0.1 ms step, E synaptic events per simulated second, recurrent and
  external: :func:`pynn_microcircuit.platforms.nest.capacity.expected_activity`; the cost per
  event grows with the number of cells, hence the product term - without it the
  leave-one-out errors were -34 % to +66 %, with it -6 % to +19 %; fitted up to 15,435
  neurons, beyond that an extrapolation);
* the analysis at the end of a run, as for NEST (the same code on the same spikes):
  :data:`pynn_microcircuit.platforms.nest.capacity.ANALYSIS_COEF`.

Until ``capacity.json`` exists the model raises; the fitted figures and their residuals are
in ``docs/measurements/neuron.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.scaling import ModelSpec

CAPACITY_FILE = Path(__file__).with_name("capacity.json")


@dataclass(frozen=True)
class NeuronCapacity:
    """Fitted coefficients (SI units: bytes, seconds)."""

    memory: tuple[float, float, float]  # m0 (B), m_N (B/neuron), m_S (B/synapse)
    build: tuple[float, float, float]  # b0 (s), b_N (s/neuron), b_S (s/synapse)
    simulate: tuple[
        float, float, float
    ]  # c_N (s/neuron/sim. s), c_E (s/event), c_NE (s/event/neuron)

    def memory_bytes(self, n: float, s: float) -> float:
        m0, mn, ms = self.memory
        return m0 + mn * n + ms * s

    def build_s(self, n: float, s: float) -> float:
        b0, bn, bs = self.build
        return b0 + bn * n + bs * s

    def simulate_s(self, n: float, events_per_s: float, t_s: float) -> float:
        cn, ce, cne = self.simulate
        return (cn * n + ce * events_per_s + cne * n * events_per_s) * t_s


@lru_cache(maxsize=1)
def fitted() -> NeuronCapacity:
    """The coefficients in ``capacity.json``."""
    if not CAPACITY_FILE.is_file():
        raise UserError(
            "no NEURON capacity model on record: run python benchmarks/neuron_capacity.py "
            "--write, or pass --force to run without the memory check"
        )
    fit = _record()["fit"]
    return NeuronCapacity(tuple(fit["memory"]), tuple(fit["build"]), tuple(fit["simulate"]))


def _record() -> dict:
    """``capacity.json``, checked: a one-line error naming the fix if it is unreadable."""
    try:
        record = json.loads(CAPACITY_FILE.read_text())
        fit = record["fit"]
        if [len(fit[k]) for k in ("memory", "build", "simulate")] != [3, 3, 3]:
            raise ValueError("the fit needs 3 coefficients each for memory, build, simulate")
        if any(len(v) != len(record["points"]) for v in record["leave_one_out"].values()):
            raise ValueError("a leave-one-out error per measured point is missing")
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"'{CAPACITY_FILE}' is not a NEURON capacity record ({type(exc).__name__}: {exc}); "
            "write it again with python benchmarks/neuron_capacity.py --write"
        ) from None
    return record


def predict(
    spec: ModelSpec,
    t_presim_ms: float,
    t_sim_ms: float,
    analysis: bool = False,
    record_fraction: float = 1.0,
    model: NeuronCapacity | None = None,
) -> dict:
    """Predicted ``memory`` (bytes) and ``walltime`` (s: build, simulation and, with
    ``analysis``, the report) of a NEURON run of ``spec``."""
    from pynn_microcircuit.platforms.nest.capacity import ANALYSIS_COEF, expected_activity

    model = model or fitted()
    _spikes, events = expected_activity(spec)
    n, s = float(spec.total_neurons), float(spec.total_synapses)
    wall = model.build_s(n, s) + model.simulate_s(n, events, (t_presim_ms + t_sim_ms) * 1e-3)
    if analysis:
        wall += ANALYSIS_COEF[0] + ANALYSIS_COEF[1] * n * record_fraction
    return {"memory": model.memory_bytes(n, s), "walltime": wall, "margins": margins()}


@lru_cache(maxsize=1)
def margins() -> dict:
    """Safety margins of this model (fractions): its largest leave-one-out error on the
    measured runs, plus 2 % (memory) and 5 % (wall time: the run-to-run spread of timing)."""
    loo = _record()["leave_one_out"]
    worst = {k: max(abs(e) for e in v) for k, v in loo.items()}
    return {"memory": round(worst["memory"] + 0.02, 2),
            "walltime": round(max(worst["build"], worst["simulate"]) + 0.05, 2)}  # fmt: skip
