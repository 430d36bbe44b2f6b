"""The downscaling sweep's analysis: every run judged against the reference ensemble with the
calibrated verdicts, the "what each method keeps" table (text and HTML), the figures of each
quantity against scale, ``results.json`` and ``report.html``."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from pynn_microcircuit.jsonio import write_json_atomic
from pynn_microcircuit.study import load_reference

from .htmlpage import img, write_html
from .study import (
    SWEEP_QUANTITIES,
    compare_with_reference,
    kept_table,
    reference_band,
    scalar_summary,
    study_statistics,
)


def reference_statistics(ref: Path):
    """Cached statistics and scalar summaries of every finished seed of ``ref``."""
    meta, runs = load_reference(ref)
    stats = {s: study_statistics(d) for s, d in runs}
    summaries = {
        s: scalar_summary(
            st, float(meta["n_scale"]), float(meta["k_scale"]), meta.get("method") or "n"
        )
        for s, st in stats.items()
    }
    band = reference_band(list(summaries.values()))
    write_json_atomic(
        ref / "summary.json",
        {"seeds": list(stats), "per_seed": summaries, "band_mean_sd": band},
    )
    return meta, stats, band


def theory_rates(cells, p) -> dict:
    """Mean-field rates of each (method, scale): ``{method: {scale: {pop: Hz}}}``."""
    from pynn_microcircuit.theory import self_consistent_rates

    out: dict = {}
    for method, scale, cell in cells:
        if scale in out.get(method, {}):
            continue
        spec = cell.spec(p)
        try:
            rates = self_consistent_rates(spec)
        except RuntimeError:
            continue
        out.setdefault(method, {})[scale] = dict(zip(spec.populations, map(float, rates)))
    return out


def analyse_sweep(out: Path, ref: Path, cells, skipped, unique, p) -> dict:
    """Statistics, verdicts, figures, results.json and report.html of a finished sweep."""
    ref_meta, ref_stats, band = reference_statistics(ref)
    measured, verdicts, per_run = _judge_cells(cells, unique, ref, ref_meta, ref_stats)
    kept = kept_table({key: vs[0] for key, vs in verdicts.items()})
    theory = theory_rates(cells, p)
    pops = list(band)
    rn, rk = float(ref_meta["n_scale"]), float(ref_meta["k_scale"])
    law_corr = {
        "1/n law (reference x n_ref / n)": {
            s: {pop: band[pop]["mean_correlation"][0] * rn / s for pop in pops}
            for s in measured.get("n", {})
        }
    }
    ref_label = "full-scale reference" if rn == rk == 1 else f"reference (n={rn:g}, k={rk:g})"
    figs = _figures(out / "figures", measured, band, theory, law_corr, ref_label)
    text = kept_text(kept, skipped)
    results = {
        "reference": str(ref),
        "reference_seeds": list(ref_stats),
        "runs": per_run,
        "kept": {m: {f"{s:g}": row for s, row in by.items()} for m, by in kept.items()},
        "skipped": [{"method": m, "scale": s, "reason": r} for m, s, r in skipped],
        "theory_rates_hz": {m: {f"{s:g}": v for s, v in by.items()} for m, by in theory.items()},
        "kept_text": text,
    }
    write_json_atomic(out / "results.json", results)
    sections = [
        (
            "Sweep",
            f"<p>reference {html.escape(str(ref))} (seeds {list(ref_stats)}, "
            f"{ref_meta['t_sim_ms']:g} ms each); every run compared with it as in "
            "<code>run.py compare</code>.</p>",
        ),
        ("What each method keeps", kept_html(kept, skipped)),
    ]
    sections += [(SWEEP_QUANTITIES[q], img(f)) for q, f in figs.items()]
    write_html(out / "report.html", "Downscaling sweep", sections)
    return results


def _judge_cells(cells, unique, ref: Path, ref_meta: dict, ref_stats: dict):
    """Every sweep run compared with the reference (a run that is one of the reference
    seeds is left out of its own reference); returns the per-method, per-scale means over
    seeds of the scalar summaries, the verdicts per (method, scale), and each run's entry."""
    measured: dict = {}
    verdicts: dict = {}
    per_run: dict = {}
    judged: dict = {}  # cell name -> (verdict, summary): scale 1 is one run for every method
    for method, scale, cell in cells:
        _, run_dir = unique[cell.name]
        if cell.name not in judged:
            st = study_statistics(run_dir)
            reused = run_dir.parent == ref  # one of the reference seeds: leave it out
            refs = [s for seed, s in ref_stats.items() if not (reused and seed == cell.seed)]
            judged[cell.name] = (
                compare_with_reference(
                    st, refs, {"n_scale": cell.n_scale, "k_scale": cell.k_scale}, ref_meta
                ),
                scalar_summary(st, cell.n_scale, cell.k_scale, cell.method),
            )
        verdict, summ = judged[cell.name]
        per_run[f"{method}@{scale:g}/s{cell.seed}"] = {
            "run": str(run_dir),
            "summary": summ,
            "verdicts": verdict,
        }
        verdicts.setdefault((method, scale), []).append(verdict)
        bucket = measured.setdefault(method, {}).setdefault(scale, {})
        for pop, row in summ.items():
            for q, v in row.items():
                bucket.setdefault(pop, {}).setdefault(q, []).append(v)
    for by_scale in measured.values():  # mean over seeds
        for pops in by_scale.values():
            for row in pops.values():
                for q, vals in row.items():
                    vals = [v for v in vals if v is not None]
                    row[q] = float(np.mean(vals)) if vals else None
    return measured, verdicts, per_run


def _figures(fig_dir: Path, measured, band, theory, law_corr, ref_label: str) -> dict:
    """One figure per quantity of :data:`SWEEP_QUANTITIES` (rates with the theory, mean
    correlations with the 1/n law)."""
    from .sweep_plots import plot_quantity

    fig_dir.mkdir(exist_ok=True)
    return {
        q: plot_quantity(
            q,
            measured,
            band,
            fig_dir / f"{q}.png",
            theory=theory if q == "mean_rate_hz" else None,
            law=law_corr if q == "mean_correlation" and "n" in measured else None,
            reference_label=ref_label,
        )
        for q in SWEEP_QUANTITIES
    }


STAT_NAMES = {
    "rates_hz": "rates",
    "cv_isi": "ISI CV",
    "correlations": "correlations",
    "correlations_rescaled": "corr. × law",
    "synchrony": "synchrony",
    "spectrum": "spectrum",
}


def _kept_cells(kept: dict):
    """Columns (method, scale) below 1 and, per statistic, the cell texts."""
    cols = [(m, s) for m, by in kept.items() for s in sorted(by, reverse=True) if s < 1]
    rows = {}
    for stat, name in STAT_NAMES.items():
        cells = []
        for m, s in cols:
            kv = kept[m][s].get(stat)
            if kv is None:
                cells.append("—")
            elif kv[0]:
                cells.append("kept")
            else:
                worst = "" if kv[1] is None else _worst(stat, kv[1])
                cells.append((worst + (f" {kv[2]}silent" if kv[2] else "")).strip())
        rows[name] = cells
    return cols, rows


def _worst(stat: str, worst: float) -> str:
    if stat == "spectrum":
        return f"x{worst:.1f}"
    return f"±{worst:.3g}" if stat == "cv_isi" else f"±{100 * worst:.0f}%"


KEPT_HELP = [
    "kept: no population 'differs' (calibrated verdicts as in run.py compare, family-wise 5 %);",
    "±E: the largest effect over populations (relative; absolute for the ISI CV); spectrum:",
    "within 2x the reference spread, xR the worst distance / spread; Nsilent: N populations",
    "without data where the reference has some; —: not compared (no correlation law).",
]


def kept_text(kept: dict, skipped) -> str:
    """Statistic x (method @ scale) as plain text (see :data:`KEPT_HELP`)."""
    cols, rows = _kept_cells(kept)
    if not cols:
        return "no downscaled runs"
    width = max(14, *(len(c) + 2 for cells in rows.values() for c in cells))
    head = f"{'statistic':<18}" + "".join(f"{m + '@' + format(s, 'g'):>{width}}" for m, s in cols)
    lines = [head] + [
        f"{name:<18}" + "".join(f"{c:>{width}}" for c in cells) for name, cells in rows.items()
    ]
    lines += KEPT_HELP
    for m, s, why in skipped:
        lines.append(f"{m} at {s:g}: not run - {why.split(': ')[0]}")
    return "\n".join(lines)


def kept_html(kept: dict, skipped) -> str:
    """The same table in HTML, kept cells green, changed ones red."""
    cols, rows = _kept_cells(kept)
    if not cols:
        return "<p>no downscaled runs</p>"
    out = ["<table><tr><th>statistic</th>"]
    out += [f"<th>{html.escape(m)} @ {s:g}</th>" for m, s in cols]
    out.append("</tr>")
    for name, cells in rows.items():
        out.append(f"<tr><th>{html.escape(name)}</th>")
        for c in cells:
            cls = "ok" if c == "kept" else ("" if c == "—" else "bad")
            out.append(f"<td class='{cls}'>{html.escape(c)}</td>")
        out.append("</tr>")
    out.append("</table><p>" + html.escape(" ".join(KEPT_HELP)) + "</p>")
    if skipped:
        out.append(
            "<p>Not run: "
            + "; ".join(html.escape(f"{m} at {s:g}") for m, s, _ in skipped)
            + f" — {html.escape(skipped[0][2])}</p>"
        )
    return "".join(out)
