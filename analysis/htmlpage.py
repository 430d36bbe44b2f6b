"""The HTML of the reports: one self-contained file (figures embedded as data URIs), the
run summary and comparison tables, warnings."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np


def img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_html(path: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """A single HTML file, figures embedded as data URIs, no external resources."""
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{content}" for h, content in sections)
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}th{background:#eee}img{max-width:100%}"
        ".ok{background:#d5f5d5}.bad{background:#f8d0d0}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    return path


def summary_table(summ: dict, meta: dict) -> str:
    cols = [
        ("mean_rate_hz", "mean rate (Hz)", ".3f"),
        ("mean_cv_isi", "mean CV", ".3f"),
        ("mean_correlation", "mean corr.", ".4f"),
        ("synchrony", "synchrony", ".2f"),
        ("spectral_peak_hz", "spectral peak (Hz)", ".1f"),
    ]
    rows = [
        "<table><tr><th>population</th><th>neurons</th>"
        + "".join(f"<th>{c[1]}</th>" for c in cols)
        + "</tr>"
    ]
    for pop, s in summ.items():
        n = meta["populations"][pop]["n_neurons"]
        cells = "".join(f"<td>{'—' if s[k] is None else format(s[k], f)}</td>" for k, _, f in cols)
        rows.append(f"<tr><th>{pop}</th><td>{n}</td>{cells}</tr>")
    return "".join(rows) + "</table>"


DISTANCE_HELP = (
    "<p>A description, not a test: each cell divides this run's distance to the reference "
    "runs by the references' <i>spread</i> (the largest distance between two reference seeds, "
    "but never less than the distance sampling noise alone reaches in 5 % of cases). "
    "Distances: Kolmogorov-Smirnov for the distributions over neurons (rate, ISI CV) and over "
    "pairs (correlation), the absolute difference for synchrony, the mean |Δ log10 PSD| over "
    "5-250 Hz for the spectrum. Values far above 2 mean a distribution lies outside what "
    "another seed gives; its false-alarm rate is not calibrated, so the verdicts above, "
    "which are, decide (the spectrum has no verdict).</p>"
)


def comparison_table(test: dict, refs: list[dict]) -> str:
    """Means of this run next to the references' mean ± standard deviation over seeds."""
    cols = [("mean_rate_hz", "rate (Hz)", ".3f"), ("mean_cv_isi", "ISI CV", ".3f")]
    cols += [("mean_correlation", "correlation", ".4f"), ("synchrony", "synchrony", ".2f")]
    rows = ["<table><tr><th>population</th>"]
    rows += [f"<th>{lab}: this run</th><th>reference</th>" for _, lab, _ in cols]
    rows.append("</tr>")
    for pop, s in test.items():
        rows.append(f"<tr><th>{pop}</th>")
        for key, _, f in cols:
            vals = np.array([r[pop][key] for r in refs if r[pop][key] is not None], float)
            ref = (
                "—"
                if vals.size == 0
                else format(vals.mean(), f)
                + ("" if vals.size < 2 else f" ± {format(vals.std(ddof=1), f)}")
            )
            rows.append(f"<td>{'—' if s[key] is None else format(s[key], f)}</td><td>{ref}</td>")
        rows.append("</tr>")
    return "".join(rows) + "</table>"


def warning_html(lines: list[str]) -> str:
    return "".join(
        f'<p style="background:#f8d0d0;padding:8px;font-weight:bold">{html.escape(x)}</p>'
        for x in lines
    )


def run_line(meta: dict) -> str:
    return (
        f"<p>platform <b>{meta.get('platform')}</b>, n = {meta.get('n_scale')}, "
        f"k = {meta.get('k_scale')}, method {meta.get('method')}, seed {meta.get('seed')}, "
        f"{meta.get('t_sim_ms')} ms analysed after {meta.get('t_presim_ms')} ms warm-up.</p>"
    )
