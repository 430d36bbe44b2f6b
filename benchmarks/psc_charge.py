"""One PD14 neuron (IF_curr_exp, tau_m 10 ms, C 250 pF, tau_syn 0.5 ms) under a regular train
of 87.8 pA PSCs (every 5 ms for 2 s, threshold out of reach), on NEST and on NEURON through
PyNN at two time steps: the mean depolarisation measures the charge each PSC delivers.

NEST's ``iaf_psc_exp`` integrates exactly (Rotter & Diesmann 1999); NEURON's fixed step takes
the exactly decaying ``ExpISyn`` current as constant over each step, so each PSC delivers
``dt / (tau_s (1 - exp(-dt / tau_s)))`` times the exact charge (1.103 at 0.1 ms, 1.010 at
0.01 ms: :func:`pynn_microcircuit.platforms.neuron.run.charge_factor`). Each simulator runs in
a child process (they cannot share one).

Usage: ``python benchmarks/psc_charge.py``
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import sys
import numpy as np
name, dt = sys.argv[1], float(sys.argv[2])
if name == "nest":
    import pyNN.nest as sim
else:
    from pynn_microcircuit.platforms.neuron.setup import import_pynn_neuron
    sim = import_pynn_neuron()
sim.setup(timestep=dt, min_delay=0.1)
cell = sim.IF_curr_exp(tau_m=10.0, cm=0.25, v_rest=-65.0, v_reset=-65.0, v_thresh=100.0,
                       tau_refrac=2.0, tau_syn_E=0.5, tau_syn_I=0.5)
p = sim.Population(1, cell)
p.initialize(v=-65.0)
src = sim.Population(1, sim.SpikeSourceArray(spike_times=np.arange(1.0, 2001.0, 5.0)))
sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.0878, delay=1.0),
               receptor_type="excitatory")
p.record("v")
sim.run(2010.0)
v = p.get_data().segments[0].analogsignals[0].magnitude[:, 0]
print(v.mean() + 65.0)
"""


def depolarisation(name: str, dt: float) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, name, str(dt)], capture_output=True,
                         text=True, check=True, env={"PYNEST_QUIET": "1", **__import__("os").environ})  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from pynn_microcircuit.platforms.neuron.run import charge_factor

    rows = [(name, dt, depolarisation(name, dt)) for name in ("nest", "neuron")
            for dt in (0.1, 0.01)]  # fmt: skip
    exact = rows[0][2]
    print("simulator  dt (ms)  mean depolarisation (mV)  / NEST at 0.1 ms  charge_factor")
    for name, dt, v in rows:
        f = charge_factor(dt, 0.5) if name == "neuron" else 1.0
        print(f"{name:<9} {dt:>8g} {v:>25.4f} {v / exact:>17.4f} {f:>14.4f}")


if __name__ == "__main__":
    main()
