"""Measure NEST runs at several scales and fit the capacity model of ``platforms/nest/capacity``.

Each point is a fresh process running the project's NEST path (n, k, method) with ``--threads``
threads; it records peak memory, build time and simulation time per simulated second. The
script prints a least-squares fit ``peak = a + b N + c S`` (bytes; N neurons, S synapses) and
power laws ``build = b S^beta`` (s) and ``sim per s = c E^gamma`` (E = synaptic events per
simulated second, from the measured rates), then predicted vs measured for every point.

Usage: ``python benchmarks/calibrate_nest_capacity.py [--synapses full|compact] [--t-sim 500]
[--points ...] [--extra-run RUN_DIR ...] [--json F]`` (one fit per synapse storage: the
capacity model's ``MEMORY_COEF`` and ``COMPACT_MEMORY_COEF``).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_POINTS = ["0.05,0.05", "0.1,0.1", "0.2,0.2", "0.3,0.3", "0.1,1", "0.25,1"]


def measure(n: float, k: float, t_sim: float, threads: int, tmp: Path, synapses: str) -> dict:
    out = tmp / f"n{n}_k{k}"
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "--n-scale",
        str(n),
        "--k-scale",
        str(k),
        "--t-sim",
        str(t_sim),
        "--t-presim",
        "100",
        "--threads",
        str(threads),
        "--synapses",
        synapses,
        "-q",
        "--out",
        str(out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    rec = json.loads((out / "run.json").read_text())
    return run_record_point(rec)


def run_record_point(rec: dict) -> dict:
    """The numbers the fit needs, from a run.json."""
    from pynn_microcircuit.platforms.nest.capacity import synaptic_events_per_s

    spec = rec["spec"]
    rates = [p["mean_rate_hz"] for p in rec["populations"].values()]
    events = synaptic_events_per_s(
        spec["n_synapses"], spec["n_neurons"], spec["ext_rate_hz"], rates
    )
    t_total = (rec["t_presim_ms"] + rec["t_sim_ms"]) * 1e-3
    return {
        "n_scale": rec["n_scale"],
        "k_scale": rec["k_scale"],
        "threads": rec["threads"],
        "neurons": spec["total_neurons"],
        "synapses": spec["total_synapses"],
        "events_per_s": events,
        "peak_rss_bytes": rec["peak_rss_bytes"],
        "build_s": rec["timings_s"]["build"],
        "sim_per_s": rec["timings_s"]["simulate"] / t_total,
    }


def fit(points: list[dict]) -> dict:
    n = np.array([p["neurons"] for p in points], float)
    s = np.array([p["synapses"] for p in points], float)
    e = np.array([p["events_per_s"] for p in points], float)
    from scipy.optimize import nnls

    one = np.ones_like(n)

    # non-negative least squares: every term is a cost, none may be negative; relative
    # errors matter, so each point is weighted by 1/measured
    def fit_rel(cols, y):
        y = np.asarray(y, float)
        a = np.c_[cols] / y[:, None]
        return nnls(a, np.ones_like(y))[0]

    def fit_power(x, y):  # y = c x^g by least squares on logs (relative errors)
        a = np.c_[np.ones_like(x), np.log(x)]
        c0, g = np.linalg.lstsq(a, np.log(np.asarray(y, float)), rcond=None)[0]
        return [float(np.exp(c0)), float(g)]

    mem = fit_rel(np.c_[one, n, s], [p["peak_rss_bytes"] for p in points])
    build = fit_power(s, [p["build_s"] for p in points])
    sim = fit_power(e, [p["sim_per_s"] for p in points])
    return {"memory": mem.tolist(), "build": build, "sim": sim}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-sim", type=float, default=500.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--synapses", choices=["full", "compact"], default="full", help="NEST synapse storage"
    )
    ap.add_argument("--points", nargs="*", default=DEFAULT_POINTS, help="n,k pairs")
    ap.add_argument("--extra-run", nargs="*", default=[], help="existing run dirs to include")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    pts = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.points:
            n, k = (float(x) for x in item.split(","))
            pts.append(measure(n, k, args.t_sim, args.threads, Path(tmp), args.synapses))
            print(json.dumps(pts[-1]), flush=True)
    for d in args.extra_run:
        pts.append(run_record_point(json.loads((Path(d) / "run.json").read_text())))
    coef = fit(pts)
    print("fit:", json.dumps(coef))
    from pynn_microcircuit.platforms.nest.capacity import NestCapacity

    cap = NestCapacity(coef["memory"], coef["build"], coef["sim"])
    print(f"{'n':>6} {'k':>6} {'peak GiB':>9} {'pred':>7} {'err %':>6}")
    for p in pts:
        pred = cap.memory_bytes(p["neurons"], p["synapses"], 0)
        print(
            f"{p['n_scale']:6g} {p['k_scale']:6g} {p['peak_rss_bytes'] / 2**30:9.3f} "
            f"{pred / 2**30:7.3f} {100 * (pred / p['peak_rss_bytes'] - 1):6.1f}"
        )
    print(f"{'n':>6} {'k':>6} {'build s':>8} {'pred':>7} {'sim s/s':>8} {'pred':>7} {'err %':>6}")
    for p in pts:
        b = cap.build_coef[0] * p["synapses"] ** cap.build_coef[1]
        sim = cap.sim_coef[0] * p["events_per_s"] ** cap.sim_coef[1]
        err = 100 * (sim / p["sim_per_s"] - 1)
        print(
            f"{p['n_scale']:6g} {p['k_scale']:6g} {p['build_s']:8.1f} {b:7.1f} "
            f"{p['sim_per_s']:8.2f} {sim:7.2f} {err:6.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"points": pts, "fit": coef}, indent=2))


if __name__ == "__main__":
    main()
