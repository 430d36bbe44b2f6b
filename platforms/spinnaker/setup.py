"""Set up ``pyNN.spiNNaker`` for a run: its own cfg in the run directory, the machine mode.

sPyNNaker reads ``./spynnaker.cfg`` (the run's own, written here) on top of a *user* cfg that
it insists on finding in ``~``, ``$XDG_CONFIG_HOME`` or ``/etc/xdg`` (and writes a template
into ``~`` when there is none). A run never needs nor creates that home file: when the user
has none, the run points ``XDG_CONFIG_HOME`` at a folder inside the run directory holding an
empty one, so every setting comes from the run's cfg.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from pynn_microcircuit.errors import UserError

from .capacity import Knobs

CFG_NAME = "spynnaker.cfg"
#: Board version of SpiNN-5 machines (48-chip boards), the EBRAINS SpiNNaker machine.
BOARD_VERSION = 5


@dataclass(frozen=True)
class Machine:
    """Where a run goes: ``virtual`` (mapping only), a board ``host``, a ``spalloc`` server,
    or ``ebrains`` (inside a job of the EBRAINS platform, which provides the machine)."""

    mode: str = "virtual"
    host: str | None = None
    spalloc: str | None = None
    spalloc_machine: str | None = None
    boards: int | None = None

    def __post_init__(self):
        if self.mode not in ("virtual", "host", "spalloc", "ebrains"):
            raise UserError(f"unknown SpiNNaker mode '{self.mode}'")


def cfg_text(machine: Machine, knobs: Knobs) -> str:
    """The run's ``spynnaker.cfg``: machine, planning rate, production-mode reports."""
    lines = ["# written by pynn-microcircuit for this run", "[Machine]"]
    if machine.mode == "virtual":
        lines += ["virtual_board = True", f"version = {BOARD_VERSION}"]
    elif machine.mode == "host":
        lines += [f"machine_name = {machine.host}", f"version = {BOARD_VERSION}"]
    elif machine.mode == "spalloc":
        lines += [f"spalloc_server = {machine.spalloc}"]
        if machine.spalloc_machine:
            lines += [f"spalloc_machine = {machine.spalloc_machine}"]
    lines += [
        "",
        "[Simulation]",
        f"spikes_per_second = {knobs.spikes_per_second:g}",
        "",
        "[Mode]",
        "mode = Production",
        "",
    ]
    if machine.mode != "virtual":  # provenance (late/dropped packets, saturation) for run.json
        lines += [
            "[Reports]",
            "write_provenance = True",
            "read_placements_provenance_data = True",
            "read_router_provenance_data = True",
            "",
        ]
    return "\n".join(lines)


def _user_cfg_exists() -> bool:
    home = Path.home() / ".spynnaker.cfg"
    xdg = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / ".spynnaker.cfg"
    return home.is_file() or xdg.is_file() or Path("/etc/xdg/.spynnaker.cfg").is_file()


@contextlib.contextmanager
def run_environment(run_dir: Path, machine: Machine, knobs: Knobs):
    """Write the run's cfg, make sPyNNaker read it (cwd = run directory) and never touch the
    user's home; restores the working directory and environment afterwards."""
    run_dir = Path(run_dir).resolve()
    (run_dir / CFG_NAME).write_text(cfg_text(machine, knobs))
    old_cwd, old_xdg = os.getcwd(), os.environ.get("XDG_CONFIG_HOME")
    if machine.mode != "ebrains" and not _user_cfg_exists():
        home = run_dir / ".spynnaker_user"
        home.mkdir(exist_ok=True)
        (home / ".spynnaker.cfg").write_text("# empty: the run's spynnaker.cfg has everything\n")
        os.environ["XDG_CONFIG_HOME"] = str(home)
    os.chdir(run_dir)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        if old_xdg is None:
            os.environ.pop("XDG_CONFIG_HOME", None)
        else:
            os.environ["XDG_CONFIG_HOME"] = old_xdg


def import_spynnaker():
    """``pyNN.spiNNaker``, or a one-line error saying how to install it."""
    try:
        import pyNN.spiNNaker as sim
    except ImportError as exc:
        raise UserError(
            f"sPyNNaker is not installed ({exc.name or exc}); install the optional group: "
            "pip install -e '.[spinnaker]'"
        ) from None
    return sim


def setup(sim, resolution_ms: float, knobs: Knobs, machine: Machine):
    """``sim.setup`` with the knobs; the neuron model's cores per slice set before any
    population exists (sPyNNaker ignores them afterwards)."""
    sim.setup(
        timestep=resolution_ms,
        time_scale_factor=int(knobs.time_scale_factor),
        n_boards_required=machine.boards,
    )
    sim.set_number_of_neurons_per_core(sim.IF_curr_exp, int(knobs.neurons_per_core))
    sim.set_allow_delay_extensions(sim.IF_curr_exp, bool(knobs.delay_extensions))
    return sim


@contextlib.contextmanager
def synapses_generated_on_machine():
    """Map a virtual board as the hardware would be mapped, without building the synaptic
    matrices on the host.

    sPyNNaker 7.4.1's ``SynapseInformation.may_generate_on_machine`` answers False whenever
    ``[Machine] virtual_board`` is set, so a virtual run computes every synaptic matrix in
    Python (about 10 s and 25 MB per million synapses: most of an hour at full scale). On
    hardware the same question is answered from the connector and the synapse dynamics only,
    and the on-chip expander builds the matrices. For the duration of a dry run this answers
    exactly as on hardware (the connector/dynamics test, nothing else), so mapping, SDRAM
    and routing decisions are the hardware's; no synaptic data is produced, nothing is
    simulated.
    """
    from spynnaker.pyNN.models.neural_projections.connectors import (
        AbstractGenerateConnectorOnMachine,
    )
    from spynnaker.pyNN.models.neural_projections.synapse_information import (
        SynapseInformation,
    )
    from spynnaker.pyNN.models.neuron.synapse_dynamics import AbstractGenerateOnMachine

    original = SynapseInformation.may_generate_on_machine

    def as_on_hardware(self) -> bool:
        connector_gen = isinstance(
            self.connector, AbstractGenerateConnectorOnMachine
        ) and self.connector.generate_on_machine(self)
        synapse_gen = (
            isinstance(self.synapse_dynamics, AbstractGenerateOnMachine)
            and self.synapse_dynamics.generate_on_machine()
        )
        return connector_gen and synapse_gen

    SynapseInformation.may_generate_on_machine = as_on_hardware
    try:
        yield
    finally:
        SynapseInformation.may_generate_on_machine = original
