"""Overdispersion priors per network, scale and duration: how much a statistic varies from
seed to seed beyond the sampling variance a single run reports.

A run's scalar (mean rate, mean ISI CV, population-averaged correlation, synchrony) varies
from seed to seed by ``phi x v``: ``v`` is its within-run sampling variance (from its own
neurons and time blocks) and ``phi`` the overdispersion that network-level fluctuations add
(``phi > 1``) or remove (``phi < 1``, e.g. inhibitory mean rates that the network pins).
``phi`` changes with the scale of the network and with the analysed duration, so each side of
a comparison takes the prior measured for *its* network, scale and duration:

* **measured**: an entry of :data:`PRIOR_FILE` for the same network (population names),
  ``n_scale``, ``k_scale`` and analysed duration; ``phi`` per population and statistic is the
  seed-to-seed variance over the mean within-run variance of a same-model NEST ensemble, on
  the scale its test uses (log for correlations), weighted ``(seeds - 1) / 2`` degrees of
  freedom (the variation is heavier-tailed than normal; ``verdicts.ensemble_prior``);
* **interpolated**: between two measured scales of the same network and duration on the
  ``n = k`` line (full scale belongs to every line), ``log phi`` linear in ``log n`` per
  population and statistic, with the smaller of the two weights: a documented rule, whose
  error is measured by ``benchmarks/cross_scale_calibration.py`` (the wrong scale's prior);
* **generic** elsewhere: :data:`GENERIC_PHI` with :data:`GENERIC_DF` degrees of freedom (the
  medians of the measured 0.1 prior, rounded up); its error rate is measured, not assumed
  (same benchmark, README).

A side with a single run takes its ``phi`` from its prior alone. Where that prior is generic
(no measurement near its scale), the single run gets :func:`conservative` instead: the
largest ``phi`` any well-measured entry (9 seeds or more) has for that population and
statistic, with the generic weight - a stated bound, never a borrowed reference phi.

Pure Python and NumPy; no simulator.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

#: The shipped priors (``benchmarks/cross_scale_calibration.py --write-prior`` adds entries).
PRIOR_FILE = Path(__file__).with_name("overdispersion_prior.json")
#: Fallback phi_0 per statistic, and its weight (degrees of freedom).
GENERIC_PHI = {"rate": 1.0, "cv_isi": 1.25, "correlation": 2.0, "synchrony": 2.0}
GENERIC_DF = 4.0
#: Statistics with a prior of their own (the rescaled cells use their raw statistic's).
BASE_STATISTIC = {"correlation_rescaled": "correlation", "synchrony_rescaled": "synchrony"}


@functools.cache
def shipped() -> tuple[dict, ...]:
    """The measured entries of :data:`PRIOR_FILE` (each ``network`` populations, ``n_scale``,
    ``k_scale``, ``t_sim_ms``, ``df``, ``phi`` ``{stat: {pop: phi}}``, ``seeds``, ``source``)."""
    data = json.loads(PRIOR_FILE.read_text())
    return tuple(data["priors"])


def _key(stat: str) -> str:
    return BASE_STATISTIC.get(stat, stat)


def _same(a, b) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9


def _label(entry: dict) -> str:
    n, k, t = entry["n_scale"], entry["k_scale"], entry["t_sim_ms"] / 1000
    where = f"n=k={n:g}" if _same(n, k) else f"n={n:g} k={k:g}"
    return f"{where} {t:g} s"


def generic() -> dict:
    """The generic prior as a selection (see the module docstring)."""
    return {
        "kind": "generic",
        "label": "generic",
        "df": GENERIC_DF,
        "phi": {s: {} for s in GENERIC_PHI},
    }


def select(populations, n_scale, k_scale, t_sim_ms, entries=None) -> dict:
    """The prior of a side: ``{"kind", "label", "df", "phi"}`` (see the module docstring).

    Parameters
    ----------
    populations : iterable of str
        The side's population names (the network).
    n_scale, k_scale : float
        Its scale (N'/N, K'/K).
    t_sim_ms : float
        Its analysed duration (ms).
    entries : sequence of dict, optional
        Measured entries; default :func:`shipped`.
    """
    entries = shipped() if entries is None else entries
    pops = set(populations)
    same = [e for e in entries if set(e["phi"]["rate"]) == pops and _same(e["t_sim_ms"], t_sim_ms)]
    for e in same:
        if _same(e["n_scale"], n_scale) and _same(e["k_scale"], k_scale):
            return {"kind": "measured", "label": "measured at " + _label(e), "df": e["df"],
                    "phi": e["phi"]}  # fmt: skip
    if not (_same(n_scale, k_scale) and n_scale and n_scale > 0):
        return generic()
    line = sorted(
        (e for e in same if _same(e["n_scale"], e["k_scale"])), key=lambda e: e["n_scale"]
    )
    below = [e for e in line if e["n_scale"] < n_scale]
    above = [e for e in line if e["n_scale"] > n_scale]
    if not below or not above:
        return generic()
    lo, hi = below[-1], above[0]
    w = (math.log(n_scale) - math.log(lo["n_scale"])) / (
        math.log(hi["n_scale"]) - math.log(lo["n_scale"])
    )
    phi: dict = {}
    for stat, by_pop in lo["phi"].items():
        for pop, a in by_pop.items():
            b = hi["phi"].get(stat, {}).get(pop)
            if b is not None and a > 0 and b > 0:
                phi.setdefault(stat, {})[pop] = math.exp((1 - w) * math.log(a) + w * math.log(b))
    return {
        "kind": "interpolated",
        "label": f"interpolated between {_label(lo)} and {_label(hi)}",
        "df": min(lo["df"], hi["df"]),
        "phi": phi,
    }


def conservative(populations, entries=None) -> dict:
    """The bound for a single run whose scale has no measured prior: per population and
    statistic the largest phi of the measured entries weighted at least :data:`GENERIC_DF`
    (9 seeds or more; a 3-seed entry's phi is too noisy to bound anything) and the generic
    one, with the generic weight."""
    entries = shipped() if entries is None else entries
    pops = set(populations)
    phi: dict = {s: {} for s in GENERIC_PHI}
    for e in entries:
        if set(e["phi"]["rate"]) != pops or e["df"] < GENERIC_DF:
            continue
        for stat, by_pop in e["phi"].items():
            for pop, value in by_pop.items():
                phi.setdefault(stat, {})[pop] = max(phi[stat].get(pop, 0.0), value)
    for stat, value in GENERIC_PHI.items():
        for pop in pops:
            phi[stat][pop] = max(phi[stat].get(pop, 0.0), value)
    return {"kind": "conservative", "label": "conservative bound (largest measured phi)",
            "df": GENERIC_DF, "phi": phi}  # fmt: skip


def phi0(prior: dict | None, stat: str, population: str) -> tuple[float, float]:
    """(phi_0, d_0) of ``stat`` in ``population`` under a selection; the generic value where
    the selection has none (or no selection is given)."""
    prior = prior or generic()
    value = prior.get("phi", {}).get(_key(stat), {}).get(population)
    if value is None:
        return GENERIC_PHI.get(_key(stat), 1.0), GENERIC_DF
    return float(value), float(prior["df"])


def for_meta(populations, meta: dict) -> dict:
    """:func:`select` for a run record (``n_scale``, ``k_scale``, ``t_sim_ms``)."""
    return select(populations, meta.get("n_scale"), meta.get("k_scale"), meta.get("t_sim_ms"))


def for_comparison(populations, test_metas: list[dict], ref_meta: dict):
    """(test prior, reference prior, note) for test runs with records ``test_metas`` against
    references like ``ref_meta``. Runs of one scale and duration share the references' (test
    prior None, see ``verdicts.cell``); otherwise each side has its own, and a single test run
    whose scale has no measured prior gets :func:`conservative`."""
    ref_prior = for_meta(populations, ref_meta)
    same = all(
        _same(t.get(k) or 0, ref_meta.get(k) or 0)
        for t in test_metas
        for k in ("n_scale", "k_scale", "t_sim_ms")
    )
    if same:
        return None, ref_prior, "one scale and duration: " + ref_prior["label"]
    test_prior = for_meta(populations, test_metas[0])
    if len(test_metas) == 1 and test_prior["kind"] == "generic":
        test_prior = conservative(populations)
    return test_prior, ref_prior, f"test: {test_prior['label']}; references: {ref_prior['label']}"


def add_entry(entry: dict, path: Path = PRIOR_FILE) -> None:
    """Add a measured entry to the prior file, replacing one for the same network, scale and
    duration (the file is rewritten whole; the cache of :func:`shipped` is cleared)."""
    data = json.loads(path.read_text())
    pops = set(entry["phi"]["rate"])
    keep = [
        e
        for e in data["priors"]
        if not (
            set(e["phi"]["rate"]) == pops
            and all(_same(e[k], entry[k]) for k in ("n_scale", "k_scale", "t_sim_ms"))
        )
    ]
    data["priors"] = sorted(
        [*keep, entry], key=lambda e: (e["t_sim_ms"], e["n_scale"], e["k_scale"])
    )
    path.write_text(json.dumps(data, indent=1) + "\n")
    shipped.cache_clear()
