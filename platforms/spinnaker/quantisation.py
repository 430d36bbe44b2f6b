"""What SpiNNaker's fixed-point weights do to each neuron's input, from sPyNNaker's own host
code for the model as built.

sPyNNaker 7.4.1 stores a synaptic weight as a 16-bit integer ``rint(|w| x scale)``
(``SynapseDynamicsStatic.get_static_synaptic_data``: ``numpy.rint``) with one scale per
target population and synapse type: ``PopulationVertex.get_weight_scales(
get_ring_buffer_shifts())`` (spynnaker/pyNN/models/neuron/population_vertex.py), where the
ring-buffer left shift is chosen on the host from the expected summed input of the incoming
projections (their weight mean, variance, maximum and the sources' rates, at
``ring_buffer_sigma`` standard deviations). The weight quantum is ``1 / scale`` (nA).

The errors each quantum causes: :mod:`pynn_microcircuit.quantisation`.
"""

from __future__ import annotations

from pynn_microcircuit.quantisation import summary
from pynn_microcircuit.scaling import ModelSpec

from .compat import population_vertex

#: Synapse types of IF_curr_exp in sPyNNaker (``SynapseTypeExponential``).
SYNAPSE_TYPES = ("excitatory", "inhibitory")


def weight_quanta_pA(populations: dict) -> dict:
    """``{population: {"excitatory": pA, "inhibitory": pA, "ring_buffer_shifts": [..]}}``
    from sPyNNaker's own functions on the built populations (before or after mapping)."""
    out = {}
    for name, pop in populations.items():
        vertex = population_vertex(pop)
        shifts = [int(s) for s in vertex.get_ring_buffer_shifts()]
        scales = vertex.get_weight_scales(shifts)
        row = {t: 1e3 / float(scales[i]) for i, t in enumerate(SYNAPSE_TYPES)}
        row["ring_buffer_shifts"] = shifts
        out[name] = row
    return out


def quantisation_record(spec: ModelSpec, populations: dict) -> dict:
    """``run.json``'s ``weight_quantisation``: the quanta (pA) and shifts per population and
    synapse type, and the input errors they cause (:func:`pynn_microcircuit.quantisation.
    summary`)."""
    return {
        **summary(spec, weight_quanta_pA(populations)),
        "rounding": "nearest (numpy.rint, sPyNNaker 7.4.1 host path)",
    }


def quanta_on_virtual_board(spec: ModelSpec, knobs, seed: int, work_dir) -> dict:
    """Build ``spec`` in sPyNNaker on a virtual board with ``knobs`` (nothing mapped or run)
    and return :func:`weight_quanta_pA`: the quanta a SpiNNaker run of it would use."""
    from pynn_microcircuit.network import build

    from .backend import SpinnakerBackend
    from .setup import Machine, import_spynnaker, run_environment, setup

    sim = import_spynnaker()
    machine = Machine("virtual")
    with run_environment(work_dir, machine, knobs):
        setup(sim, spec.resolution_ms, knobs, machine)
        backend = SpinnakerBackend(sim, seed, knobs, spec.resolution_ms)
        net = build(sim, spec, seed, backend=backend, record_fraction=0.0)
        quanta = weight_quanta_pA(net.populations)
        sim.end()
    return quanta


def main(argv=None) -> int:
    """``python -m pynn_microcircuit.platforms.spinnaker.quantisation MODEL_JSON OUT_JSON SEED``: the quanta of
    the model file's model and knobs, written as JSON (a separate process, because
    sPyNNaker and NEST do not share one)."""
    import json
    import sys
    import tempfile
    from pathlib import Path

    from pynn_microcircuit.modelfile import read_model

    from .capacity import Knobs

    model, out, seed = (argv if argv is not None else sys.argv[1:])[:3]
    _, spec, _, settings, _ = read_model(model)
    knobs = Knobs(**settings.get("knobs", {}))
    with tempfile.TemporaryDirectory() as work:
        quanta = quanta_on_virtual_board(spec, knobs, int(seed), work)
    Path(out).write_text(json.dumps(quanta, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
