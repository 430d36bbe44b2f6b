"""The same benchmark model built and run through pynn-microcircuit's NEST path.

Usage: ``python benchmarks/project_nest.py SCALE T_SIM_MS THREADS SEED OUTDIR`` prints one JSON
line (timings as recorded by the run itself, in its run.json).
"""

import json
import logging
import sys


def main(scale: float, t_sim: float, threads: int, seed: int, out: str) -> dict:
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.nest.run import run_nest
    from pynn_microcircuit.runner import RunOptions
    from pynn_microcircuit.scaling import make_spec

    logging.basicConfig(level=logging.WARNING)
    spec = make_spec(Params(), scale, scale)
    run_dir = run_nest(
        spec, RunOptions(t_presim_ms=500.0, t_sim_ms=t_sim, seed=seed, threads=threads), out=out
    )
    rec = json.loads((run_dir / "run.json").read_text())
    return {
        "variant": "project",
        "build_s": rec["timings_s"]["build"],
        "simulate_s": rec["timings_s"]["simulate"],
        "peak_rss_bytes": rec["peak_rss_bytes"],
        "n_connections": rec["n_connections_nest"],
        "n_spikes": sum(p["n_spikes"] for p in rec["populations"].values()),
    }


if __name__ == "__main__":
    a = sys.argv
    print(json.dumps(main(float(a[1]), float(a[2]), int(a[3]), int(a[4]), a[5])))
