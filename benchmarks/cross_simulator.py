"""NEURON against NEST: the calibrated comparison of seed ensembles at one scale, and what each
simulator cost, written as a dated page.

Each ``--case`` is ``LABEL:TEST_GLOB:REFERENCE_GLOB`` (run directories, or a reference
ensemble directory, as ``run.py compare`` takes them): the NEURON runs are the tested side,
NEST's the references, so every cell's variance is each side's own seed-to-seed variance
(moderated towards the prior of its scale and duration). The page holds, per case, the
verdict of every population x statistic at the table's 5 % family-wise error rate (Holm),
the difference and the smallest difference the cell would have detected (power 0.8), and
the build time, simulation time and peak memory of both simulators.

Usage: ``python benchmarks/cross_simulator.py --case "0.05:/runs/neuron_n0.05_s*:/refs/ens"
[--case ...] [--page docs/measurements/neuron-vs-nest.md]``
"""

from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import logging
import os
import platform
from pathlib import Path

import numpy as np

STATS = ("rate", "cv_isi", "correlation", "synchrony")


def _runs(pattern: str) -> list[str]:
    found = sorted(glob.glob(pattern))
    if not found:
        raise SystemExit(f"no run directory matches {pattern}")
    return found


def _run_dirs(paths: list[str]) -> list[Path]:
    """Run directories of ``paths`` (an ensemble directory's ``seed_*`` folders)."""
    out = []
    for p in map(Path, paths):
        out += sorted(p.glob("seed_*")) if (p / "reference.json").is_file() else [p]
    return out


def rates(paths: list[str]) -> dict:
    """Per population the mean rate (Hz) of each run."""
    recs = [json.loads((d / "run.json").read_text()) for d in _run_dirs(paths)]
    return {p: [r["populations"][p]["mean_rate_hz"] for r in recs] for p in recs[0]["populations"]}


def plot_rates(cases: list[dict], path: Path) -> None:
    """One panel per case: each population's mean rate (seed mean +- SEM) on both
    simulators."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2
    rows = (len(cases) + 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.6 * rows), squeeze=False)
    for ax, case in zip(axes.flat, cases):
        pops = list(case["rates_nest"])
        x = np.arange(len(pops))
        for off, key, label, color in ((-0.2, "rates_nest", "NEST", "0.3"),
                                       (0.2, "rates_neuron", "NEURON", "tab:red")):  # fmt: skip
            vals = [np.asarray(case[key][p]) for p in pops]
            mean = [v.mean() for v in vals]
            sem = [v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0 for v in vals]
            ax.bar(
                x + off, mean, 0.4, yerr=sem, color=color, label=f"{label} ({len(vals[0])} seeds)"
            )
        ax.set_xticks(x, pops)
        ax.set_ylabel("mean rate (Hz)")
        ax.set_title(case["label"], fontsize=9)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(cases) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def cost(paths: list[str]) -> dict:
    """Mean build and simulation time per simulated second, and peak memory, of the runs."""
    recs = [json.loads((d / "run.json").read_text()) for d in _run_dirs(paths)]
    t = [(r["t_presim_ms"] + r["t_sim_ms"]) * 1e-3 for r in recs]
    return {
        "runs": len(recs),
        "build_s": float(np.mean([r["timings_s"]["build"] for r in recs])),
        "simulate_per_s": float(np.mean([r["timings_s"]["simulate"] / s for r, s in zip(recs, t)])),
        "peak_mib": float(np.mean([r["peak_rss_bytes"] for r in recs]) / 2**20),
        "threads": recs[0].get("threads", 1),
        "neurons": sum(p["n_neurons"] for p in recs[0]["populations"].values()),
        "synapses": recs[0]["n_synapses"],
        "duration_s": recs[0]["t_sim_ms"] * 1e-3,
    }


def compare_case(label: str, tests: list[str], refs: list[str]) -> dict:
    from pynn_microcircuit.analysis.report import compare_runs

    out, _ = compare_runs(tests, refs)
    result = json.loads((out / "comparison.json").read_text())
    return {"label": label, "cells": result["cells"], "report": str(out / "report.html"),
            "prior": result["overdispersion_prior"]["note"],
            "neuron": cost(tests), "nest": cost(refs),
        "charge_match": _charge_match(tests),
        "rates_neuron": rates(tests), "rates_nest": rates(refs)}  # fmt: skip


def _charge_match(paths: list[str]) -> bool | None:
    """Whether the NEURON runs had the PSC charge matched (None: mixed)."""
    seen = {json.loads((d / "run.json").read_text()).get("charge_match", False)
            for d in _run_dirs(paths)}  # fmt: skip
    return seen.pop() if len(seen) == 1 else None


def _cell_text(c: dict) -> str:
    if c.get("verdict") in (None, "no data"):
        return "no data"
    unit = "%" if c.get("mde_units") == "relative" else ""
    scale = 100 if unit else 1
    fmt = ".0f" if unit else ".3f"
    return (f"{c['verdict']} {scale * c['effect_size']:+{fmt}}{unit} "
            f"(≥{scale * c['min_detectable_effect']:{fmt}}{unit})")  # fmt: skip


def page(cases: list[dict]) -> str:
    import neuron
    import pyNN

    from pynn_microcircuit.rundir import versions

    v = versions()
    lines = [
        "# NEURON vs NEST (measured)",
        "",
        f"Written by `python benchmarks/cross_simulator.py` on {_dt.date.today().isoformat()}: "
        f"{platform.machine()}, {os.cpu_count()} cores; NEURON {neuron.__version__}, NEST "
        f"{v.get('nest')}, PyNN {pyNN.__version__}, Elephant {v.get('elephant')}.",
        "",
        "The NEURON runs are tested against NEST's as references, each side with its own "
        "seed-to-seed variance. Each cell: the verdict at a 5 % family-wise error rate over the "
        "table (Holm), NEURON's difference from NEST's mean (relative for rate, correlation "
        "and synchrony; absolute for the ISI CV), and after ≥ the smallest difference the "
        "cell would have detected with probability 0.8. Build and simulation times are the "
        "runs' own (their run.json), taken while other work shared the 2 cores: a rough "
        "guide; the NEURON capacity model (neuron-capacity) was measured alone.",
    ]
    for case in cases:
        nrn, nst = case["neuron"], case["nest"]
        lines += [
            "",
            f"## {case['label']}: {nrn['runs']} NEURON vs {nst['runs']} NEST seeds, "
            f"{nrn['duration_s']:g} s each",
            "",
            f"PSC charge matched on NEURON: {case['charge_match']}. Overdispersion priors: "
            f"{case['prior']}.",
            "",
            "| population | " + " | ".join(STATS) + " |",
            "|---|" + "---|" * len(STATS),
        ]
        by = {(c["population"], c["statistic"]): c for c in case["cells"]}
        for pop in dict.fromkeys(c["population"] for c in case["cells"]):
            lines.append(
                f"| {pop} | " + " | ".join(_cell_text(by.get((pop, s), {})) for s in STATS) + " |"
            )
        n_diff = sum(
            by[k]["verdict"] == "differs" for k in by if k[1] in STATS and "verdict" in by[k]
        )
        lines += [
            "",
            f"{n_diff} of {len([k for k in by if k[1] in STATS])} cells differ.",
            "",
            "| simulator | neurons | synapses | build (s) | simulation per simulated s (s) | "
            "peak memory (MiB) |",
            "|---|---|---|---|---|---|",
        ]
        for name, c in (("NEURON (1 process)", nrn), (f"NEST ({nst['threads']} threads)", nst)):
            lines.append(
                f"| {name} | {c['neurons']:,} | {c['synapses']:,} | {c['build_s']:.1f} | "
                f"{c['simulate_per_s']:.2f} | {c['peak_mib']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", required=True, help="LABEL:TESTS:REFS globs")
    ap.add_argument("--page", default=None, help="write the page here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cases = []
    for spec in args.case:
        label, tests, refs = spec.split(":")
        cases.append(compare_case(label, _runs(tests), _runs(refs)))
        print(f"{label}: report {cases[-1]['report']}")
    text = page(cases)
    print(text)
    if args.page:
        figure = Path(args.page).with_name(Path(args.page).stem + "-rates.png")
        plot_rates(cases, figure)
        text += f"\n## Rates\n\n![mean rates per population]({figure.name})\n"
        Path(args.page).write_text(text)
        Path(args.page).with_suffix(".json").write_text(
            json.dumps([{k: v for k, v in c.items() if k != "report"} for c in cases], indent=1)
        )


if __name__ == "__main__":
    main()
