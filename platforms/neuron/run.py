"""A NEURON run: PyNN's generic route (:func:`pynn_microcircuit.platforms.generic.run_generic`)
on ``pyNN.neuron``, with the NEURON version and integration settings in ``run.json``."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

from pynn_microcircuit.platform import RunRequest
from pynn_microcircuit.scaling import ModelSpec

from .setup import import_pynn_neuron

log = logging.getLogger(__name__)


def charge_factor(dt_ms: float, tau_syn_ms: float) -> float:
    """Charge of one PSC as NEURON's fixed step delivers it, over the exact charge.

    PyNN's ``ExpISyn`` (``pyNN/neuron/nmodl/expisyn.mod``) decays its current exactly
    (``cnexp``), but the membrane takes it as a constant over each step: one event injects
    ``w dt sum_k exp(-k dt / tau_s) = w dt / (1 - exp(-dt / tau_s))`` instead of the exact
    ``w tau_s`` (NEST's ``iaf_psc_exp``, exact integration: Rotter & Diesmann 1999, Biol
    Cybern 81:381). The ratio ``dt / (tau_s (1 - exp(-dt / tau_s)))`` is 1.103 at
    dt = 0.1 ms, tau_s = 0.5 ms (measured here: mean PSP 10.3 % larger than NEST's; 1 % at
    dt = 0.01 ms). Dimensionless; times in ms.
    """
    x = dt_ms / tau_syn_ms
    return x / -math.expm1(-x)


def charge_matched(spec: ModelSpec, f: float) -> ModelSpec:
    """``spec`` with every synaptic weight (recurrent, external, thalamic) divided by ``f``,
    its :func:`charge_factor`, so each PSC delivers the exact model's charge on NEURON's
    fixed step; DC currents are untouched."""
    thalamus = spec.thalamus
    if thalamus:
        thalamus = {**thalamus, "weight_mean_pA": thalamus["weight_mean_pA"] / f,
                    "weight_sd_pA": thalamus["weight_sd_pA"] / f}  # fmt: skip
    return dataclasses.replace(
        spec,
        weight_mean_pA=spec.weight_mean_pA / f,
        weight_sd_pA=spec.weight_sd_pA / f,
        ext_weight_pA=spec.ext_weight_pA / f,
        thalamus=thalamus,
    )


def run_neuron(request: RunRequest) -> Path:
    """Build and simulate ``request`` with NEURON; returns the run directory.

    PyNN's NEURON backend integrates each ``IF_curr_exp`` cell with NEURON's fixed-step
    implicit (backward) Euler at the time step (``use_cvode=False``, PyNN's default), delivers
    spikes as NetCon events with the projection's delay (not rounded to the time step), and
    draws the Poisson input with PyNN's ``NetStimFD`` mechanism (``pyNN/neuron/nmodl/
    netstim2.mod``): every source draws its intervals from NEURON's one global generator,
    which each source's ``seed(native_rng_baseseed + rank)`` resets
    (``pyNN/neuron/cells.py``, ``RandomSpikeSource``). The base seed is derived from the
    run's seed here, so a run is reproducible; without it PyNN seeds every run with 0.

    Unless ``settings["charge_match"]`` is False the weights are divided by
    :func:`charge_factor` (NEURON's fixed step otherwise delivers 10 % more charge per PSC at
    0.1 ms, and the rates come out far above the model's); ``run.json`` records the factor,
    whether it was applied; its ``spec`` is the model (the weights as the model states them).
    """
    from pynn_microcircuit.network import substream_seed

    from .backend import NeuronBackend

    sim = import_pynn_neuron()  # before neuron itself: under mpirun, mpi4py comes first
    import neuron

    from pynn_microcircuit.platforms.generic import run_generic

    poisson_seed = substream_seed(request.options.seed, 97)
    spec = request.spec
    factor = charge_factor(spec.resolution_ms, float(spec.neuron["tau_syn_ms"]))
    matched = request.settings.get("charge_match") is not False
    if not matched:
        log.warning(
            "charge match off: NEURON's fixed step delivers %.1f %% more charge per PSC than "
            "the model (docs/neuron.md)",
            100 * (factor - 1),
        )
    return run_generic(
        sim,
        "neuron",
        request,
        build_spec=charge_matched(spec, factor) if matched else None,
        setup_kwargs={"native_rng_baseseed": poisson_seed},
        backend_class=NeuronBackend,
        details={
            "neuron_version": neuron.__version__,
            "integration": "fixed-step implicit Euler, cvode off",
            "poisson_base_seed": poisson_seed,
            "psc_charge_factor": factor,
            "charge_match": matched,
            "weights_built_divided_by": factor if matched else 1.0,
        },
    )
