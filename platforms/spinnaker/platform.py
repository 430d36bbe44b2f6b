"""SpiNNaker as a :class:`~pynn_microcircuit.platform.Platform`: sPyNNaker on a board, a
spalloc server, inside an EBRAINS job, or mapped on a virtual machine. Importing this module
imports no simulator (sPyNNaker is imported by a run, in :mod:`.run`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynn_microcircuit.platform import CapacityOptions, Platform, RunRequest, register

#: Run options only SpiNNaker takes (command-line destinations); the knobs are shared with
#: NEST's SpiNNaker emulation.
MACHINE_OPTIONS = ("machine", "board_version", "spalloc", "spalloc_machine", "ebrains_job")
JOB_OPTIONS = ("job", "job_seeds", "code_commit", "code_url")
KNOBS = ("neurons_per_core", "time_scale_factor", "planning_rate", "no_delay_extensions")


class SpinnakerPlatform(Platform):
    name = "spinnaker"
    summary = "SpiNNaker through sPyNNaker 7.x (a board, spalloc, EBRAINS, or a virtual machine)"
    budget_keys = ("cores", "chips", "boards", "slowdown")
    options = (*MACHINE_OPTIONS, *JOB_OPTIONS, *KNOBS)
    command = "pynn_microcircuit.cli.spinnaker:run_on_spinnaker"

    def capacity(self, options: CapacityOptions):
        from .capacity import budget_capacity

        return budget_capacity

    def run_flags(self, settings: Mapping[str, Any]) -> str:
        if not settings:
            return ""
        return (
            f" --neurons-per-core {settings['neurons_per_core']} --time-scale-factor "
            f"{settings['time_scale_factor']} --planning-rate {settings['spikes_per_second']:g}"
            + ("" if settings["delay_extensions"] else " --no-delay-extensions")
        )

    def plan_notes(self, plan_dict: dict, params) -> list[str]:
        """The weight-resolution line: the quanta sPyNNaker computes for the planned model
        and knobs (``plan_dict["weight_quantisation"]``; None when sPyNNaker could not)."""
        from pynn_microcircuit.budget import SETTINGS
        from pynn_microcircuit.errors import UserError
        from pynn_microcircuit.quantisation import summary
        from pynn_microcircuit.scaling import make_spec

        from .capacity import Knobs
        from .quanta import quantisation_line, spinnaker_quanta

        spec = make_spec(
            params, plan_dict["n_scale"], plan_dict["k_scale"], method=plan_dict["method"]
        )
        knobs = Knobs(**(plan_dict["predicted"].get(SETTINGS) or {}))
        try:
            quanta = spinnaker_quanta(params, spec, knobs, seed=12345)
        except UserError as exc:
            plan_dict["weight_quantisation"] = None
            return [f"weight resolution: not computed ({exc})"]
        plan_dict["weight_quantisation"] = summary(spec, quanta)
        return [quantisation_line(plan_dict["weight_quantisation"])]

    def run(self, request: RunRequest) -> Path:
        """Map (and, with a machine in ``settings``, run) ``request`` through
        :func:`.run.run_spinnaker`; knobs from ``settings`` over the plan's, the machine from
        ``settings`` (:func:`.setup.machine_for`)."""
        from pynn_microcircuit.budget import SETTINGS

        from .capacity import predict_mapping
        from .quanta import knobs_from_settings
        from .run import run_spinnaker
        from .setup import machine_for

        planned = ((request.plan or {}).get("predicted") or {}).get(SETTINGS)
        knobs = knobs_from_settings(request.settings, planned)
        chips = predict_mapping(request.spec, knobs).chips
        machine = machine_for(request.settings, None, chips)
        return run_spinnaker(
            request.spec,
            request.options,
            knobs,
            machine,
            out=request.out,
            plan=request.plan,
            extra={"params": request.params.to_dict(), **request.extra},
        )


PLATFORM = register(SpinnakerPlatform())
