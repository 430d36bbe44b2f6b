"""Every private sPyNNaker internal this package uses, in one place, for the version it was
written for: sPyNNaker 7.4.1 (checked at import; another version stops with one line).

* :func:`synapses_generated_on_machine` replaces
  ``SynapseInformation.may_generate_on_machine``
  (spynnaker/pyNN/models/neural_projections/synapse_information.py, 7.4.1) for the duration
  of a virtual-board mapping, so the mapping is the hardware's.
"""

from __future__ import annotations

import contextlib

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
