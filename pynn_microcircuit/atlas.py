"""Measured fidelity of downscaled models: the atlas of ``benchmarks/fidelity_atlas.py``.

The atlas holds, for NEST runs of each scaling method at several scales (3 seeds each, 2 s
after 0.5 s) against a full-scale NEST reference, the deviation of every population's mean
rate, mean ISI CV, population-averaged count correlation and synchrony from full scale, with
standard errors that count the seed-to-seed spread on both sides. The planner states these
figures where a measured cell is near and theory elsewhere (:func:`fidelity_at`):

* **measured**: a cell of the same method, ``n`` and ``k`` (within 1 %); the interval is
  the deviation +- 2 standard errors;
* **interpolated**: between the two nearest measured cells of the same method on the same
  line (``n = k`` for the K-scaling methods, ``k`` fixed for N-scaling), linear in
  ``log n``; deviations of ratios (rate, correlation, synchrony) are interpolated as
  ``log(1 + deviation)``. The interval spans both neighbours' intervals, interpolated,
  widened by half the gap between the neighbours' values (what the cells themselves say
  about how far a straight line can be off); its coverage is measured by leave-one-cell-out
  (``benchmarks/fidelity_atlas.py``, docs/measurements);
* **theory** (the planner's mean-field figures) elsewhere, said so.

Deviations are relative (``test / full - 1``) for rate, correlation and synchrony, absolute
(``test - full``) for the ISI CV. Pure Python and NumPy; no simulator.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

ATLAS_FILE = Path(__file__).with_name("fidelity_atlas.json")
STATISTICS = ("rate", "cv_isi", "correlation", "synchrony")
RELATIVE = {"rate", "correlation", "synchrony"}
#: Populations whose full-scale rate is below this (Hz) are left out of the rate summary
#: (a relative deviation of a near-silent rate says little; as the README's table did).
MIN_RATE_HZ = 0.5


@functools.cache
def load(path: str | None = None) -> dict:
    """The shipped atlas (``{"cells": [...], "reference": ..., "versions": ...}``); an empty
    one when none is shipped."""
    p = Path(path) if path else ATLAS_FILE
    if not p.is_file():
        return {"cells": []}
    return json.loads(p.read_text())


def _same(a: float, b: float, rel: float = 0.01) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def line_of(method: str, n: float, k: float) -> tuple[str, float | None]:
    """The line a cell lies on: K-scaling methods with ``n = k`` are on the ``n = k`` line
    (key None), everything else on its fixed ``k``."""
    if method != "n" and _same(n, k):
        return method, None
    return method, round(k, 4)


def _to_axis(stat: str, dev: float) -> float:
    return math.log1p(dev) if stat in RELATIVE else dev


def _from_axis(stat: str, x: float) -> float:
    return math.expm1(x) if stat in RELATIVE else x


def summary(cell: dict, stat: str) -> tuple[str, dict] | None:
    """The population that sets a cell's figure for ``stat`` (largest absolute deviation; for rates
    among populations firing >= :data:`MIN_RATE_HZ` at full scale) and its entry."""
    rows = cell["statistics"].get(stat, {})
    if stat == "rate":
        rows = {p: r for p, r in rows.items() if r.get("reference", 0) >= MIN_RATE_HZ}
    rows = {p: r for p, r in rows.items() if r.get("deviation") is not None}
    if not rows:
        return None
    pop = max(rows, key=lambda p: abs(rows[p]["deviation"]))
    return pop, rows[pop]


def _interval(row: dict) -> list[float]:
    return [row["deviation"] - 2 * row["se"], row["deviation"] + 2 * row["se"]]


def fidelity_at(method: str, n: float, k: float, atlas: dict | None = None,
                exclude: tuple | None = None) -> dict:  # fmt: skip
    """``{stat: {"value", "interval", "source", "population", "note"}}`` for a model, or
    ``{}`` entries with ``source: "theory"`` where the atlas has nothing near.

    ``exclude``: a cell ``(method, n, k)`` to leave out (leave-one-cell-out validation)."""
    atlas = load() if atlas is None else atlas
    line = line_of(method, n, k)
    cells = [
        c for c in atlas.get("cells", [])
        if line_of(c["method"], c["n_scale"], c["k_scale"]) == line
        and not (exclude and c["method"] == exclude[0] and _same(c["n_scale"], exclude[1])
                 and _same(c["k_scale"], exclude[2]))
    ]  # fmt: skip
    out = {}
    for stat in STATISTICS:
        exact = [c for c in cells if _same(c["n_scale"], n) and _same(c["k_scale"], k)]
        if exact and (s := summary(exact[0], stat)):
            pop, row = s
            out[stat] = {"value": row["deviation"], "interval": _interval(row),
                         "source": "measured", "population": pop,
                         "note": f"measured at n={n:g}, k={k:g} ({exact[0]['seeds']} seeds)"}  # fmt: skip
            continue
        below = sorted((c for c in cells if c["n_scale"] < n), key=lambda c: c["n_scale"])
        above = sorted((c for c in cells if c["n_scale"] > n), key=lambda c: c["n_scale"])
        if below and above and (a := summary(below[-1], stat)) and (b := summary(above[0], stat)):
            lo, hi = below[-1], above[0]
            w = (math.log(n) - math.log(lo["n_scale"])) / (
                math.log(hi["n_scale"]) - math.log(lo["n_scale"])
            )
            xa, xb = _to_axis(stat, a[1]["deviation"]), _to_axis(stat, b[1]["deviation"])
            ia = [_to_axis(stat, v) for v in _interval(a[1])]
            ib = [_to_axis(stat, v) for v in _interval(b[1])]
            gap = abs(xb - xa) / 2
            x = (1 - w) * xa + w * xb
            lo_x = (1 - w) * ia[0] + w * ib[0] - gap
            hi_x = (1 - w) * ia[1] + w * ib[1] + gap
            out[stat] = {"value": _from_axis(stat, x),
                         "interval": [_from_axis(stat, lo_x), _from_axis(stat, hi_x)],
                         "source": "interpolated", "population": a[0] if a[0] == b[0] else None,
                         "note": f"interpolated between n={lo['n_scale']:g} and "
                                 f"n={hi['n_scale']:g} (k={k:g}, {method})"}  # fmt: skip
            continue
        near = sorted(c["n_scale"] for c in cells)
        out[stat] = {"value": None, "interval": None, "source": "theory", "population": None,
                     "note": "theory only: no measurement of this method on this line"
                     + (f" within n = {near[0]:g}-{near[-1]:g}" if near else "")}  # fmt: skip
    return out


def describe(fid: dict) -> str:
    """One plan line of :func:`fidelity_at`'s figures."""
    parts = []
    for stat, f in fid.items():
        if f["source"] == "theory":
            continue
        unit = "%" if stat in RELATIVE else ""
        scale = 100 if stat in RELATIVE else 1
        lo, hi = f["interval"]
        parts.append(
            f"{stat} {scale * f['value']:+.3g}{unit} [{scale * lo:+.3g}, {scale * hi:+.3g}]"
            + (f" ({f['population']})" if f.get("population") else "")
        )
    sources = sorted({f["note"] for f in fid.values()})
    if not parts:
        return "measured fidelity: none near this model (" + "; ".join(sources) + ")"
    return (
        "measured fidelity vs full-scale NEST (largest deviation of a population, 95 % "
        "interval): " + ", ".join(parts) + " - " + "; ".join(sources)
    )
