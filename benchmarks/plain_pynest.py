"""PD14 in plain PyNEST: the baseline our NEST path is measured against.

Written the way NEST's reference implementation (``Potjans_2014`` example /
INM-6 microcircuit-PD14-model) builds the model: neurons created per population, parameters and
initial potentials set with NEST-native distributions, spike recorders and Poisson generators
after the neurons, ``fixed_total_number`` connections with redrawn normal weights and delays.
It takes its numbers from the same :class:`ModelSpec` (pure numpy) so both build the same model.

Usage: ``python benchmarks/plain_pynest.py SCALE T_SIM_MS THREADS SEED`` prints one JSON line.
"""

import json
import resource
import sys
import time


def main(scale: float, t_sim: float, threads: int, seed: int, t_presim: float = 500.0) -> dict:
    import nest
    import numpy as np

    from pynn_microcircuit.params import Params
    from pynn_microcircuit.scaling import make_spec

    spec = make_spec(Params(), scale, scale)
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus(
        {"resolution": spec.resolution_ms, "local_num_threads": threads, "rng_seed": seed}
    )
    nr = spec.neuron
    pops = []
    for i in range(spec.n_pops):
        pop = nest.Create("iaf_psc_exp", int(spec.n_neurons[i]))
        pop.set(
            C_m=nr["C_m_pF"],
            tau_m=nr["tau_m_ms"],
            tau_syn_ex=nr["tau_syn_ms"],
            tau_syn_in=nr["tau_syn_ms"],
            E_L=nr["E_L_mV"],
            V_th=nr["V_th_mV"],
            V_reset=nr["V_reset_mV"],
            t_ref=nr["t_ref_ms"],
            I_e=float(spec.dc_pA[i]),
        )
        pop.set(V_m=nest.random.normal(float(spec.v0_mean_mV[i]), float(spec.v0_sd_mV[i])))
        pops.append(pop)
    recorders = nest.Create("spike_recorder", spec.n_pops, params={"start": t_presim})
    gens = nest.Create("poisson_generator", spec.n_pops)
    gens.rate = spec.ext_rate_hz.tolist()
    for i, tgt in enumerate(pops):
        for j, src in enumerate(pops):
            w = float(spec.weight_mean_pA[i, j])
            lo, hi = (0.0, np.inf) if w >= 0 else (-np.inf, 0.0)
            nest.Connect(
                src,
                tgt,
                {"rule": "fixed_total_number", "N": int(spec.n_synapses[i, j])},
                {
                    "synapse_model": "static_synapse",
                    "weight": nest.math.redraw(
                        nest.random.normal(w, float(spec.weight_sd_pA[i, j])), lo, hi
                    ),
                    "delay": nest.math.redraw(
                        nest.random.normal(
                            float(spec.delay_mean_ms[i, j]), float(spec.delay_sd_ms[i, j])
                        ),
                        spec.delay_min_ms,
                        np.inf,
                    ),
                },
            )
    for i, pop in enumerate(pops):
        nest.Connect(pop, recorders[i])
        nest.Connect(
            gens[i],
            pop,
            "all_to_all",
            {
                "synapse_model": "static_synapse",
                "weight": spec.ext_weight_pA,
                "delay": spec.ext_delay_ms,
            },
        )
    t_build = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Simulate(t_presim + t_sim)
    t_simulate = time.perf_counter() - t1
    n_spikes = int(sum(r.n_events for r in recorders))
    return {
        "variant": "plain",
        "build_s": t_build,
        "simulate_s": t_simulate,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "n_connections": int(nest.GetKernelStatus("num_connections")),
        "n_spikes": n_spikes,
    }


if __name__ == "__main__":
    s, t, th, sd = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(main(s, t, th, sd)))
