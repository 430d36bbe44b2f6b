"""Measure NEURON runs at several scales and fit the capacity model of ``platforms/neuron``.

Each point is a fresh process (``run.py --platform neuron``, generic PyNN route, one process)
that records peak memory, build time and simulation time. The fit is non-negative least
squares (scipy.optimize.nnls) of

* peak memory = m0 + m_N N + m_S S (bytes; N neurons, S synapses),
* build time = b0 + b_N N + b_S S (s),
* simulation time / simulated s = c_N N + c_E E + c_NE N E (E synaptic events per simulated
  second, from the measured rates: recurrent synapses x source rate + external Poisson
  events; the product term because the cost per event grows with the network: without it
  the leave-one-out errors were -34 % to +66 %, with it -6 % to +19 %),

with each point's leave-one-out prediction error printed, so the model is judged on runs it
was not fitted to. ``--write`` stores the runs, the fit, the versions and the machine in
``platforms/neuron/capacity.json`` (read by ``platforms/neuron/capacity.py``) and the table
in ``docs/measurements/neuron-capacity.md``.

Usage: ``python benchmarks/neuron_capacity.py [--points n,k ...] [--t-sim 500] [--write]``
(about 10 minutes with the default points on 2 cores; run nothing else meanwhile).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POINTS = ["0.02,0.02", "0.05,0.05", "0.1,0.1", "0.15,0.15", "0.2,0.05", "0.03,0.3"]


def measure(n: float, k: float, t_presim: float, t_sim: float, tmp: Path) -> dict:
    """One NEURON run of the model at (n, k); its sizes, timings, memory and events."""
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.nest.capacity import synaptic_events_per_s
    from pynn_microcircuit.scaling import make_spec

    out = tmp / f"n{n}_k{k}"
    cmd = [sys.executable, str(ROOT / "run.py"), "--platform", "neuron", "--n-scale", str(n),
           "--k-scale", str(k), "--t-presim", str(t_presim), "--t-sim", str(t_sim),
           "--no-analysis", "--force", "-q", "--out", str(out)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"run failed at n={n}, k={k}: {res.stderr.strip().splitlines()[-1:]}")
    rec = json.loads((out / "run.json").read_text())
    spec = make_spec(Params(), n, k)
    rates = np.array([p["mean_rate_hz"] for p in rec["populations"].values()])
    events = synaptic_events_per_s(spec.n_synapses, spec.n_neurons, spec.ext_rate_hz, rates)
    t = rec["timings_s"]
    return {
        "n_scale": n,
        "k_scale": k,
        "neurons": int(spec.total_neurons),
        "synapses": int(spec.total_synapses),
        "events_per_s": float(events),
        "peak_bytes": int(rec["peak_rss_bytes"]),
        "build_s": float(t["build"]),
        "simulate_per_s": float(t["simulate"]) / ((t_presim + t_sim) * 1e-3),
    }


def _design(points: list[dict]) -> dict:
    n = np.array([p["neurons"] for p in points], float)
    s = np.array([p["synapses"] for p in points], float)
    e = np.array([p["events_per_s"] for p in points], float)
    one = np.ones_like(n)
    return {
        "memory": (np.column_stack([one, n, s]), "peak_bytes"),
        "build": (np.column_stack([one, n, s]), "build_s"),
        "simulate": (np.column_stack([n, e, n * e]), "simulate_per_s"),
    }


def fit(points: list[dict]) -> tuple[dict, dict]:
    """Coefficients per quantity, and each point's leave-one-out relative error."""
    coef, loo = {}, {}
    for name, (a, key) in _design(points).items():
        y = np.array([p[key] for p in points], float)
        # relative errors matter (sizes span 100x): weight each row by 1/y
        w = 1 / y
        coef[name] = [float(c) for c in nnls(a * w[:, None], y * w)[0]]
        errs = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            c = nnls(a[keep] * w[keep, None], y[keep] * w[keep])[0]
            errs.append(float(a[i] @ c / y[i] - 1))
        loo[name] = errs
    return coef, loo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", nargs="+", default=DEFAULT_POINTS, help="n,k pairs")
    ap.add_argument("--t-presim", type=float, default=100.0)
    ap.add_argument("--t-sim", type=float, default=500.0)
    ap.add_argument("--from-json", default=None, help="refit measured points from a file")
    ap.add_argument("--write", action="store_true", help="write capacity.json and the page")
    args = ap.parse_args()
    if args.from_json:
        points = json.loads(Path(args.from_json).read_text())["points"]
    else:
        points = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, nk in enumerate(args.points):
                n, k = (float(x) for x in nk.split(","))
                print(f"[{i + 1}/{len(args.points)}] n={n:g} k={k:g} ...", flush=True)
                points.append(measure(n, k, args.t_presim, args.t_sim, Path(tmp)))
                print(f"    {json.dumps(points[-1])}", flush=True)
    coef, loo = fit(points)
    rows = table(points, loo)
    print("\n".join(rows))
    print(f"fit: {json.dumps(coef)}")
    if args.write:
        write(points, coef, loo, rows, args)


def table(points: list[dict], loo: dict) -> list[str]:
    head = ("| n | k | neurons | synapses | events/s | peak MiB | build s | sim s per s | "
            "leave-one-out error: memory, build, simulation |")  # fmt: skip
    rows = [head, "|" + "---|" * 9]
    for i, p in enumerate(points):
        rows.append(
            f"| {p['n_scale']:g} | {p['k_scale']:g} | {p['neurons']:,} | {p['synapses']:,} | "
            f"{p['events_per_s']:.3g} | {p['peak_bytes'] / 2**20:.0f} | {p['build_s']:.1f} | "
            f"{p['simulate_per_s']:.2f} | {100 * loo['memory'][i]:+.0f} %, "
            f"{100 * loo['build'][i]:+.0f} %, {100 * loo['simulate'][i]:+.0f} % |"
        )
    return rows


def write(points: list[dict], coef: dict, loo: dict, rows: list[str], args) -> None:
    import neuron
    import pyNN

    meta = {
        "date": _dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}",
        "neuron": neuron.__version__,
        "pyNN": pyNN.__version__,
        "t_presim_ms": args.t_presim,
        "t_sim_ms": args.t_sim,
    }
    record = {"meta": meta, "fit": coef, "leave_one_out": loo, "points": points}
    path = ROOT / "platforms" / "neuron" / "capacity.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    page = ROOT / "docs" / "measurements" / "neuron-capacity.md"
    m0, mn, ms = coef["memory"]
    b0, bn, bs = coef["build"]
    cn, ce, cne = coef["simulate"]
    page.write_text(
        "# NEURON capacity model (measured)\n\n"
        f"Written by `python benchmarks/neuron_capacity.py --write` on {meta['date']}: "
        f"{meta['machine']}, NEURON {meta['neuron']}, PyNN {meta['pyNN']}; each point one "
        f"process, {args.t_presim:g} ms warm-up + {args.t_sim:g} ms.\n\n"
        f"- peak memory = {m0 / 2**20:.0f} MiB + {mn / 1024:.2f} KiB x neurons + "
        f"{ms:.0f} B x synapses\n"
        f"- build = {b0:.2f} s + {bn * 1e6:.1f} us x neurons + {bs * 1e6:.2f} us x synapses\n"
        f"- simulation per simulated second = {cn * 1e3:.3f} ms x neurons + "
        f"{ce * 1e9:.1f} ns x synaptic events per second + {cne * 1e12:.1f} ps x neurons x "
        "events per second (the cost per event grows with the network; fitted up to 15,435 "
        "neurons, so a larger network is an extrapolation)\n\n"
        "Each row's last column is the error of a fit made without that row "
        "(leave-one-out).\n\n" + "\n".join(rows) + "\n"
    )
    print(f"wrote {path} and {page}")


if __name__ == "__main__":
    main()
