"""Benchmark: pynn-microcircuit's NEST path against plain PyNEST, alternating, same machine.

Each repetition runs both variants in fresh processes (so peak memory is per variant), in
alternating order, and the script prints the median of each and the ratios project/plain for
build time, simulation time and peak memory. Targets (issue: foundation): build <= 1.25x,
simulation <= 1.10x, memory <= 1.15x.

``--plain-threads`` runs plain PyNEST on another thread count: at full scale on a 2-core machine
plain PyNEST needs 3 threads (NEST's 134,217,726 connections per thread and synapse type)
where the project runs on 2, and the comparison that matters to a laptop user is the two
runs as each must be made (issue 16). Each repetition's own ratio project/plain is printed
too: the two runs of a repetition ran next to each other, so their ratio carries less of the
machine's drift than the ratio of medians.

Usage::

    python benchmarks/nest_vs_pynest.py --scale 0.2 --reps 5 [--t-sim 1000] [--threads 2]
    python benchmarks/nest_vs_pynest.py --scale 1 --reps 4 --threads 2 --plain-threads 3
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
    """One run of ``variant`` ("plain" or "project") in a fresh process; its JSON line."""
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
    ap.add_argument(
        "--plain-threads",
        type=int,
        default=None,
        help="plain PyNEST's threads (default: --threads)",
    )
    ap.add_argument("--json", default=None, help="also write all measurements here")
    args = ap.parse_args()
    threads = {"plain": args.plain_threads or args.threads, "project": args.threads}
    rows = {"plain": [], "project": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            order = ("plain", "project") if rep % 2 == 0 else ("project", "plain")
            for variant in order:
                r = run_one(
                    variant, args.scale, args.t_sim, threads[variant], 1000 + rep, Path(tmp)
                )
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
    print("\nratio project/plain of each repetition (simulation, build, peak memory):")
    for rep, (q, p) in enumerate(zip(rows["project"], rows["plain"], strict=True)):
        print(
            f"rep {rep}  "
            + "  ".join(f"{q[k] / p[k]:.3f}" for k in ("simulate_s", "build_s", "peak_rss_bytes"))
        )
    print(
        f"\nscale {args.scale}, {args.reps} alternating repetitions, threads: project "
        f"{threads['project']}, plain {threads['plain']}, "
        f"{args.t_sim:g} ms + 500 ms warm-up (medians)"
    )
    print(f"{'':10s} {'plain':>10s} {'project':>10s} {'ratio':>7s} {'target':>7s}")
    # equal threads: the foundation issue's limits; plain on more threads: issue 16's
    targets = (1.25, 1.10, 1.15) if threads["plain"] == threads["project"] else (None, 0.80, 1.00)
    for (key, label, scale), target in zip(
        (
            ("build_s", "build s", 1),
            ("simulate_s", "sim s", 1),
            ("peak_rss_bytes", "peak MiB", 2**20),
        ),
        targets,
        strict=True,
    ):
        p, q = med["plain"][key] / scale, med["project"][key] / scale
        shown = "-" if target is None else f"{target:.2f}"
        print(f"{label:10s} {p:10.2f} {q:10.2f} {q / p:7.3f} {shown:>7s}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
