"""Build and run the model on NEST by one route; print counts and rates as JSON.

``python tests/route_run.py fast|generic N_SCALE T_MS SEED`` (used by tests/test_routes.py:
each route in its own process, as NEST keeps one kernel per process).
"""

import json
import sys
import time

import nest
import numpy as np

from pynn_microcircuit.network import PyNNBackend, build
from pynn_microcircuit.params import Params
from pynn_microcircuit.platforms.nest.fastpath import NestBackend
from pynn_microcircuit.platforms.nest.setup import setup
from pynn_microcircuit.scaling import make_spec

route, scale, t_ms, seed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
spec = make_spec(Params(), scale, scale)
sim = setup(spec.resolution_ms, seed, 2)
backend = NestBackend(sim, seed) if route == "fast" else PyNNBackend(sim, seed)
t0 = time.perf_counter()
net = build(sim, spec, seed, backend=backend, record_fraction=1.0, record_from_ms=200.0)
t_build = time.perf_counter() - t0
sim.run(200.0 + t_ms)
nodes = [p.node_collection for p in net.populations.values()]
neurons = nodes[0]
for nc in nodes[1:]:
    neurons = neurons + nc
rates = {}
for name, (ids, times) in net.spikes().items():
    n = int(spec.n_neurons[spec.populations.index(name)])
    keep = times > 200.0
    counts = np.bincount(np.asarray(ids)[keep].astype(int), minlength=n)[:n]
    rates[name] = (counts / (t_ms * 1e-3)).tolist()
print(
    json.dumps(
        {
            "neurons": {k: p.size for k, p in net.populations.items()},
            "synapses": len(nest.GetConnections(source=neurons, target=neurons)),
            "build_s": t_build,
            "rates": rates,
        }
    )
)
