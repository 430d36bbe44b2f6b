"""Benchmark: pynn-microcircuit's NEST path against plain PyNEST, alternating, same machine.

Each repetition runs both variants in fresh processes (so peak memory is per variant), in
alternating order, and the script prints the median of each and the ratios project/plain for
build time, simulation time and peak memory. Targets (issue: foundation): build <= 1.25x,
simulation <= 1.10x, memory <= 1.15x.

Usage::

    python benchmarks/nest_vs_pynest.py --scale 0.2 --reps 5 [--t-sim 1000] [--threads 2]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(variant: str, scale: float, t_sim: float, threads: int, seed: int, tmp: Path) -> dict:
    if variant == "plain":
        cmd = [
            sys.executable,
            str(HERE / "plain_pynest.py"),
            str(scale),
            str(t_sim),
            str(threads),
            str(seed),
        ]
    else:
        out = tmp / f"run_{seed}_{len(list(tmp.iterdir()))}"
        cmd = [
            sys.executable,
            str(HERE / "project_nest.py"),
            str(scale),
            str(t_sim),
            str(threads),
            str(seed),
            str(out),
        ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.2, help="n = k (default 0.2)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--t-sim", type=float, default=1000.0, help="ms after 500 ms warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write all measurements here")
    args = ap.parse_args()
    rows = {"plain": [], "project": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            order = ("plain", "project") if rep % 2 == 0 else ("project", "plain")
            for variant in order:
                r = run_one(variant, args.scale, args.t_sim, args.threads, 1000 + rep, Path(tmp))
                rows[variant].append(r)
                print(
                    f"rep {rep} {variant:8s} build {r['build_s']:7.2f} s  simulate "
                    f"{r['simulate_s']:7.2f} s  peak {r['peak_rss_bytes'] / 2**20:8.0f} MiB  "
                    f"connections {r['n_connections']}",
                    flush=True,
                )
    med = {
        v: {
            k: statistics.median(r[k] for r in rows[v])
            for k in ("build_s", "simulate_s", "peak_rss_bytes")
        }
        for v in rows
    }
    print(
        f"\nscale {args.scale}, {args.reps} alternating repetitions, {args.threads} threads, "
        f"{args.t_sim:g} ms + 500 ms warm-up (medians)"
    )
    print(f"{'':10s} {'plain':>10s} {'project':>10s} {'ratio':>7s} {'target':>7s}")
    for key, label, target, scale in (
        ("build_s", "build s", 1.25, 1),
        ("simulate_s", "sim s", 1.10, 1),
        ("peak_rss_bytes", "peak MiB", 1.15, 2**20),
    ):
        p, q = med["plain"][key] / scale, med["project"][key] / scale
        print(f"{label:10s} {p:10.2f} {q:10.2f} {q / p:7.3f} {target:7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
