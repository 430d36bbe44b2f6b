"""Every private sPyNNaker internal this package uses, in one place, for the version it was
written for: sPyNNaker 7.4.1 (checked at import; another version stops with one line).

* :func:`synapses_generated_on_machine` replaces
  ``SynapseInformation.may_generate_on_machine``
  (spynnaker/pyNN/models/neural_projections/synapse_information.py, 7.4.1) for the duration
  of a virtual-board mapping, so the mapping is the hardware's.
"""

from __future__ import annotations

import contextlib
from collections import Counter

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.platforms.compat_check import require

SPYNNAKER_VERSION = require("sPyNNaker", "1!7.4", "the SpiNNaker platform code")


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


def population_vertex(population):
    """The application vertex behind a ``pyNN.spiNNaker`` Population (its ``_vertex``
    property, spynnaker/pyNN/models/populations/population.py, 7.4.1)."""
    return population._vertex


#: The sPyNNaker internals the platform code calls, as (module, attribute path, where used).
#: The version string alone is not enough: the EBRAINS machine builds sPyNNaker from git
#: (its ``docker_image/install_spinnaker_git.sh``), so a 1!7.4.2 that passes the version
#: check may have moved one of them.
INTERNALS = (
    ("spinn_front_end_common.data", "FecDataView.iterate_placemements", "compat.read_mapping"),
    ("spinn_front_end_common.data", "FecDataView.get_machine", "compat.read_mapping"),
    ("spinn_front_end_common.utilities.base_database", "BaseDatabase.default_database_file",
     "compat.run_databases"),
    ("spinn_front_end_common.interface.provenance", "GlobalProvenance.get_global_provenace_path",
     "compat.run_databases"),
    ("spynnaker.pyNN.models.neural_projections.synapse_information",
     "SynapseInformation.may_generate_on_machine", "synapses_generated_on_machine"),
    ("spynnaker.pyNN.models.neural_projections.connectors",
     "AbstractGenerateConnectorOnMachine", "synapses_generated_on_machine"),
    ("spynnaker.pyNN.models.neuron.synapse_dynamics", "AbstractGenerateOnMachine",
     "synapses_generated_on_machine"),
    ("spynnaker.pyNN.models.neuron.population_vertex", "PopulationVertex.get_ring_buffer_shifts",
     "quantisation.weight_quanta_pA"),
    ("spynnaker.pyNN.models.neuron.population_vertex", "PopulationVertex.get_weight_scales",
     "quantisation.weight_quanta_pA"),
    ("spynnaker.pyNN.models.populations.population", "Population.spinnaker_get_data",
     "readback.population_spikes"),
)  # fmt: skip


def missing_internals(internals=INTERNALS) -> list[str]:
    """The entries of :data:`INTERNALS` the installed sPyNNaker lacks, as
    ``module:attribute (used by ...)``; empty when all are there."""
    from importlib import import_module

    missing = []
    for module, path, user in internals:
        try:
            obj = import_module(module)
            for part in path.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            missing.append(f"{module}:{path} (used by {user})")
    return missing


def check_internals() -> dict:
    """run.json's ``spynnaker``: the version that ran and the internals checked; a one-line
    :class:`UserError` naming the missing ones before anything is built."""
    missing = missing_internals()
    if missing:
        raise UserError(
            f"sPyNNaker {SPYNNAKER_VERSION} lacks internals this package uses: "
            f"{'; '.join(missing)} - install sPyNNaker==1!7.4.1 or report it"
        )
    return {"version": SPYNNAKER_VERSION, "internals_checked": len(INTERNALS)}


#: Machine-vertex classes by the kind of core they occupy; system cores are not counted.
KIND_OF_VERTEX = {
    "PopulationNeuronsMachineVertex": "neuron",
    "PopulationMachineVertex": "neuron",  # combined neuron+synapse core
    "PopulationSynapsesMachineVertexLead": "synapse",
    "PopulationSynapsesMachineVertexShared": "synapse",
    "SpikeSourcePoissonMachineVertex": "poisson",
    "DelayExtensionMachineVertex": "delay",
}
SYSTEM_VERTICES = {"ExtraMonitorSupportMachineVertex", "DataSpeedUpPacketGatherMachineVertex"}


def read_mapping() -> dict:
    """Cores, chips and boards the last ``sim.run`` placed, from sPyNNaker's data view."""
    from spinn_front_end_common.data import FecDataView

    kinds: Counter = Counter()
    chips = set()
    other: Counter = Counter()
    for pl in FecDataView.iterate_placemements():  # sic, sPyNNaker 7.4.1
        name = type(pl.vertex).__name__
        if name in SYSTEM_VERTICES:
            continue
        kind = KIND_OF_VERTEX.get(name)
        if kind is None:
            other[name] += 1
            kind = "other"
        kinds[kind] += 1
        chips.add((pl.x, pl.y))
    machine = FecDataView.get_machine()
    boards = {
        (machine[x, y].nearest_ethernet_x, machine[x, y].nearest_ethernet_y) for x, y in chips
    }
    return {
        "cores": int(sum(kinds.values())),
        "chips": len(chips),
        "boards": len(boards),
        "cores_by_kind": dict(kinds),
        "other_vertices": dict(other),
        "machine_chips": int(machine.n_chips),
    }


def run_databases() -> tuple[str | None, str | None]:
    """Paths of the current run's database (recordings and provenance counters) and of the
    global provenance database (log messages, timings); call before ``sim.end``."""
    from spinn_front_end_common.interface.provenance import GlobalProvenance
    from spinn_front_end_common.utilities.base_database import BaseDatabase

    paths = []
    for get in (BaseDatabase.default_database_file, GlobalProvenance.get_global_provenace_path):
        try:
            paths.append(get())
        except Exception:  # noqa: BLE001 - a missing path only loses provenance, reported
            paths.append(None)
    return paths[0], paths[1]
