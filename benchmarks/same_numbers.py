"""Does a refactoring change the numbers? Run the same model and seed with the code of a git
revision (checked out into a temporary worktree, run from there with this interpreter) and
with the working tree, and compare the spikes and run.json.

Usage: ``python benchmarks/same_numbers.py REV [--platform nest] [--n-scale 0.02]
[--t-sim 300] [--seed 7]``. Prints per population whether the spikes (neuron index and
time of every spike) are identical, and which run.json entries differ (timings, memory,
paths and the command are expected to).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_TO_DIFFER = {"timings_s", "peak_rss_bytes", "peak_rss_bytes_per_rank", "command",
                      "real_time_factor", "created", "host", "versions", "code"}  # fmt: skip


def run(code: Path, out: Path, args) -> dict:
    """A run with the package in ``code`` (an installed-layout copy: ``python -m`` in it
    imports that copy before the installed one)."""
    cmd = [sys.executable, "-m", "pynn_microcircuit", "--platform", args.platform, "--n-scale", str(args.n_scale), "--seed", str(args.seed),
           "--t-presim", "100", "--t-sim", str(args.t_sim), "--no-analysis", "-q",
           "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=code, capture_output=True)
    return json.loads((out / "run.json").read_text())


def spikes(run_dir: Path) -> dict:
    with h5py.File(run_dir / "spikes.h5") as f:
        g = f["spikes"]
        return {k: (np.asarray(g[k]["node_ids"]), np.asarray(g[k]["timestamps"])) for k in g}


def compare_revision(
    rev: str, platform: str = "nest", n_scale: float = 0.02, t_sim: float = 300.0, seed: int = 7
) -> tuple[bool, list[str]]:
    """Run revision ``rev`` and the working tree on the same model and seed; (identical spikes
    and run.json apart from :data:`EXPECTED_TO_DIFFER`, report lines)."""
    args = argparse.Namespace(platform=platform, n_scale=n_scale, t_sim=t_sim, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old_code = tmp / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old_code), rev],
                       check=True, cwd=ROOT, capture_output=True)  # fmt: skip
        try:
            from pynn_microcircuit.platforms.spinnaker.code import installed_layout

            a = run(installed_layout(old_code, tmp / "old_installed"), tmp / "a", args)
            b = run(installed_layout(ROOT, tmp / "new_installed"), tmp / "b", args)
            sa, sb = spikes(tmp / "a"), spikes(tmp / "b")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_code)], cwd=ROOT,
                           capture_output=True)  # fmt: skip
    same, lines = True, []
    for pop in sa:
        eq = all(np.array_equal(x, y) for x, y in zip(sa[pop], sb[pop]))
        same &= eq
        lines.append(f"{pop}: {len(sa[pop][1])} spikes, {'identical' if eq else 'DIFFERENT'}")
    diff = sorted(
        k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in EXPECTED_TO_DIFFER
    )
    lines.append(f"run.json entries that differ: {diff or 'none'}")
    return same and not diff, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev")
    ap.add_argument("--platform", default="nest")
    ap.add_argument("--n-scale", type=float, default=0.02)
    ap.add_argument("--t-sim", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    same, lines = compare_revision(args.rev, args.platform, args.n_scale, args.t_sim, args.seed)
    print("\n".join(lines))
    print("SAME NUMBERS" if same else "NUMBERS CHANGED")


if __name__ == "__main__":
    main()
