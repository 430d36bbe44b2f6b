"""Hardware budgets and the planner that picks (n, k, method) to fit one.

A budget is ``KEY=VALUE[,KEY=VALUE...]``:

=========== ========== ===================================================================
key         taken by   value
=========== ========== ===================================================================
memory      nest,      peak memory of the run, with a unit: ``512MiB``, ``8GiB``, ``2GB``
            neuron
threads     nest       NEST threads (an integer)
walltime    nest,      wall time of the whole run (build + warm-up + simulation):
            neuron     ``90s``, ``10min``, ``1.5h``
cores       spinnaker  application cores
chips       spinnaker  SpiNNaker chips
boards      spinnaker  SpiNN-5 boards (48 chips)
slowdown    spinnaker  allowed slow-down factor vs real time (time-scale factor)
=========== ========== ===================================================================

Which platform takes which key is the platform's to say
(:attr:`pynn_microcircuit.platform.Platform.budget_keys`); the table lists the built-ins.
The planner is pure: it calls a platform's capacity model (a function ``ModelSpec -> dict of
resources``) and the mean-field theory, never a simulator.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .atlas import describe as describe_measured
from .atlas import fidelity_at
from .errors import UserError
from .params import Params
from .scaling import ModelSpec, linear_k_min, make_spec
from .theory import (
    correlation_factor,
    correlation_note,
    effective_connectivity,
    self_consistent_rates,
    w_ratio,
)

_MEM_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_TIME_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600}

#: The budget vocabulary; each platform names the keys it takes
#: (:attr:`pynn_microcircuit.platform.Platform.budget_keys`).
FORMS = {
    "memory": "memory=<number><B|KiB|MiB|GiB|TiB|KB|MB|GB|TB>, e.g. memory=8GiB",
    "threads": "threads=<integer >= 1>, e.g. threads=4",
    "walltime": "walltime=<number><s|min|h> for the whole run, e.g. walltime=10min",
    "cores": "cores=<integer>, e.g. cores=800",
    "chips": "chips=<integer>, e.g. chips=48",
    "boards": "boards=<integer>, e.g. boards=1",
    "slowdown": "slowdown=<number >= 1> (time-scale factor), e.g. slowdown=20",
}


def parse_memory(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]+)\s*", text)
    if not m or m.group(2).lower() not in _MEM_UNITS:
        raise UserError(f"cannot read memory '{text}'; use {FORMS['memory']}")
    return int(float(m.group(1)) * _MEM_UNITS[m.group(2).lower()])


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]+)\s*", text)
    if not m or m.group(2).lower() not in _TIME_UNITS:
        raise UserError(f"cannot read wall time '{text}'; use {FORMS['walltime']}")
    return float(m.group(1)) * _TIME_UNITS[m.group(2).lower()]


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def parse_budget(text: str, platform: str) -> dict:
    """Parse ``KEY=VALUE[,...]`` into a dict with SI values (bytes, seconds, counts).

    Raises
    ------
    UserError
        A malformed item, an unknown key, a unit it cannot read, a key the platform does not
        take: one line listing the accepted forms.
    """
    from .platform import budget_key_owners, get_platform

    accepted = get_platform(platform).budget_keys
    if not accepted:
        raise UserError(f"platform '{platform}' takes no budget; drop the budget", "budget")
    out: dict = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise UserError(
                f"budget item '{item}' is not KEY=VALUE; accepted for {platform}: "
                + "; ".join(FORMS[k] for k in accepted)
            )
        key, value = (s.strip() for s in item.split("=", 1))
        key = key.lower()
        if key not in FORMS:
            raise UserError(
                f"unknown budget key '{key}'; accepted for {platform}: "
                + "; ".join(FORMS[k] for k in accepted)
            )
        if key not in accepted:
            other = " or ".join(budget_key_owners(key)) or "none registered"
            raise UserError(
                f"budget key '{key}' is for platform {other}, not {platform}; "
                f"accepted for {platform}: " + ", ".join(accepted)
            )
        if key == "memory":
            out[key] = parse_memory(value)
        elif key == "walltime":
            out[key] = parse_duration(value)
        elif key == "slowdown":
            try:
                out[key] = float(value)
            except ValueError:
                raise UserError(f"cannot read '{value}'; use {FORMS[key]}") from None
            if out[key] < 1:
                raise UserError(f"slowdown must be >= 1; use {FORMS[key]}")
        else:
            if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
                raise UserError(f"cannot read {key} '{value}'; use {FORMS[key]}")
            out[key] = int(value)
    if not out:
        raise UserError(
            "empty budget; accepted for " + platform + ": " + "; ".join(FORMS[k] for k in accepted)
        )
    return out


# ----------------------------------------------------------------------------------- planning

PRESERVE = ("rates", "correlations", "balanced")

#: What each method keeps and changes (van Albada, Helias & Diesmann 2015).
METHOD_EFFECTS = {
    "n": "keeps in-degrees, weights, input mean and variance, effective connectivity "
    "(rates kept); pairwise correlations grow ~1/n",
    "sqrt-k": "keeps input mean and variance (rates to first order); effective connectivity "
    "falls by sqrt(k), so correlations and oscillations change; measured rates at "
    "k = 0.1 are 11-55 % below full scale",
    "linear-k": "keeps input mean, variance and effective connectivity; correlations grow ~1/k; "
    "possible only for k >= k_min (0.79-0.90)",
    "none": "keeps nothing: input mean and variance change (shown for comparison only)",
}


@dataclass
class Plan:
    """A chosen model, the resources it needs, and what it costs in fidelity."""

    platform: str
    n_scale: float
    k_scale: float
    method: str
    fits: bool
    predicted: dict
    budget: dict
    fidelity: dict
    explanation: list[str] = field(default_factory=list)
    fidelity_by_statistic: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "platform": self.platform,
            "n_scale": self.n_scale,
            "k_scale": self.k_scale,
            "method": self.method,
            "fits": self.fits,
            "predicted": self.predicted,
            "budget": self.budget,
            "fidelity": self.fidelity,
            "fidelity_by_statistic": self.fidelity_by_statistic,
            "explanation": self.explanation,
        }


#: Safety margins on predicted resources: a plan must fit ``limit / (1 + margin)``.
#: memory: the NEST model was within 0.1 % at every calibration point, but a run's peak
#: varies by more between runs (a plan 70 KB under 1 GiB peaked 0.04 % over it), so 3 %;
#: walltime: the recalibrated model (platforms/nest/capacity.py, 21 idle runs) is at worst
#: 14 % short on the simulation, 8 % on large builds and 13 % on the analysis, so 20 %;
#: SpiNNaker cores are exact (no margin; chips carry the placer's CHIP_MARGIN already).
MARGINS = {"memory": 0.03, "walltime": 0.2}
#: Key of a capacity model's result under which it returns the platform settings its
#: prediction assumes (e.g. SpiNNaker's neurons per core); not a resource.
SETTINGS = "settings"
#: Key of a capacity model's result under which it may give its own margins (its measured
#: error), ``{resource: fraction}``, in place of :data:`MARGINS`; not a resource.
OWN_MARGINS = "margins"


def margins_of(resources: dict) -> dict:
    """The safety margins for ``resources``: :data:`MARGINS` with the capacity model's own
    (:data:`OWN_MARGINS`) over them."""
    return {**MARGINS, **(resources.get(OWN_MARGINS) or {})}


def fits(resources: dict, budget: dict) -> bool:
    """True when every budgeted resource, with its safety margin (:func:`margins_of`), is
    within its limit."""
    margins = margins_of(resources)
    for key, limit in budget.items():
        if key == "slowdown":
            continue  # an input to the capacity model, not a limit
        if resources.get(key, 0) * (1 + margins.get(key, 0.0)) > limit:
            return False
    return True


def eigenvalue_shift(full: np.ndarray, scaled: np.ndarray) -> float:
    """Largest distance from an eigenvalue of the full-scale effective connectivity to the
    nearest eigenvalue of the scaled model's (0 when the spectrum is kept)."""
    return float(max(np.min(np.abs(scaled - lam)) for lam in full))


def fidelity(
    spec: ModelSpec, full_rates_mf: np.ndarray, full_eigenvalues: np.ndarray | None = None
) -> dict:
    """Predicted fidelity of ``spec``: mean-field rate error vs full scale, correlation
    factor (1/n where W = K J is kept, None with a reason where it is not), effective-
    connectivity ratio (1, sqrt(k), k), and the eigenvalues of the linearised rate model's
    effective connectivity (:func:`pynn_microcircuit.theory.effective_connectivity`) with
    their shift from full scale (``eigenvalue_shift``; van Albada et al. 2015: what decides
    whether a downscaled network keeps its oscillations and correlation structure).

    Every number comes from the same mean-field fixed point of ``spec``; the compensation's
    rates (published or mean-field) enter only through the spec's DC, and the mismatch of
    published rates with the full-scale fixed point is ``max_rate_error_rel``'s floor."""
    rates = self_consistent_rates(spec, guess_hz=full_rates_mf)
    rel = np.abs(rates / full_rates_mf - 1)
    eff = w_ratio(spec.method, spec.k_scale)
    ev = np.linalg.eigvals(effective_connectivity(spec, rates))
    out = {
        "mean_field_rates_hz": rates.tolist(),
        "max_rate_error_rel": float(rel.max()),
        "rates_max_rel_dev": float(rel.max()),
        "correlation_factor": correlation_factor(spec),
        "correlation_note": correlation_note(spec),
        "effective_connectivity_ratio": eff,
        "eigenvalues": [[float(z.real), float(z.imag)] for z in ev],
        "dominant_eigenvalue_re": float(ev.real.max()),
    }
    if full_eigenvalues is not None:
        out["eigenvalue_shift"] = eigenvalue_shift(full_eigenvalues, ev)
    return out


def _split_text(fid: dict) -> str:
    """' (scaling itself 0.0 %; ...)' when the compensation's rates explain the rest."""
    own = fid.get("rates_max_rel_dev_consistent")
    if own is None or fid["max_rate_error_rel"] - own < 0.005:
        return ""
    return (
        f" (the scaling itself {100 * own:.1f} %; the rest because the compensation used "
        f"rates up to {100 * fid['compensation_rates_mismatch_rel']:.0f} % off the "
        "mean-field fixed point - rates='theory' compensates at it)"
    )


def compensation_split(spec: ModelSpec, p: Params, full_rates_mf: np.ndarray) -> dict:
    """The rate error of ``spec`` split by cause (both from the mean-field fixed point of
    :func:`pynn_microcircuit.theory.self_consistent_rates`):

    * ``rates_max_rel_dev_consistent``: the same scaling compensated with the full-scale
      fixed point's own rates (``--rates theory``): the error of the scaling itself;
    * ``compensation_rates_mismatch_rel``: how far the rates the compensation used (e.g. the
      published table) are from that fixed point; what remains of ``rates_max_rel_dev``
      beyond the first number comes from this mismatch, not from the scaling.
    """
    mismatch = float(np.max(np.abs(spec.rates_for_compensation_hz / full_rates_mf - 1)))
    consistent = make_spec(
        p, spec.n_scale, spec.k_scale, method=spec.method,
        input=spec.input,
        rates_hz=full_rates_mf, rates_source="mean-field",
        allow_partial=spec.residual_variance_rel is not None,
    )  # fmt: skip
    rates = self_consistent_rates(consistent, guess_hz=full_rates_mf)
    return {
        "rates_max_rel_dev_consistent": float(np.max(np.abs(rates / full_rates_mf - 1))),
        "compensation_rates_mismatch_rel": mismatch,
    }


def _score(fid: dict, preserve: str) -> float:
    """Lower is better. Rate error counts 1 per 1 %, a doubling of correlations or halving of
    effective connectivity counts as a 10 % rate error under 'balanced'."""
    rate = 100 * fid["max_rate_error_rel"]
    eff = abs(math.log2(fid["effective_connectivity_ratio"]))
    if fid["correlation_factor"] is None:
        # W changed: no law predicts the correlations (the change of W itself is scored by
        # ``eff``); under 'correlations' a W-keeping method that fits always wins
        corr = 1000.0 if preserve == "correlations" else 0.0
    else:
        corr = abs(math.log2(fid["correlation_factor"]))
    weights = {
        "rates": (1.0, 1.0, 10.0),
        "correlations": (0.2, 20.0, 20.0),
        "balanced": (1.0, 10.0, 10.0),
    }[preserve]
    return weights[0] * rate + weights[1] * corr + weights[2] * eff


def candidates(p: Params, methods=("n", "sqrt-k", "linear-k")) -> list[tuple[float, float, str]]:
    """The (n, k, method) grid the planner searches: scales on a fine geometric grid."""
    grid = sorted({round(x, 4) for x in np.geomspace(0.005, 1.0, 60)} | {1.0})
    kmin = float(linear_k_min(p).max())
    out = [(1.0, 1.0, "n")]
    for s in grid:
        if s < 1:
            if "n" in methods:
                out.append((s, 1.0, "n"))
            if "sqrt-k" in methods:
                out.append((1.0, s, "sqrt-k"))
                out.append((s, s, "sqrt-k"))
            if "linear-k" in methods and s >= kmin:
                out.append((1.0, s, "linear-k"))
    return out


def plan(
    platform: str,
    budget: dict,
    capacity,
    p: Params | None = None,
    preserve: str = "balanced",
    methods=("n", "sqrt-k", "linear-k"),
) -> Plan:
    """Pick the highest-fidelity (n, k, method) whose predicted resources fit ``budget``.

    Parameters
    ----------
    capacity : callable
        ``capacity(spec, budget) -> dict`` of predicted resources (same keys as the budget),
        plus, under :data:`SETTINGS`, the platform settings the prediction assumes (shown
        in the plan and passed on to the run; the planner does not interpret them).
    preserve : {'rates', 'correlations', 'balanced'}
        What to keep first; 'balanced' (default) weighs a doubling of correlations or a halving
        of the effective connectivity like a 10 % rate error.

    Raises
    ------
    UserError
        No candidate fits; the message states the smallest budget that would.
    """
    if preserve not in PRESERVE:
        raise UserError(f"preserve must be one of {', '.join(PRESERVE)}", "preserve", preserve)
    p = p or Params()
    full = make_spec(p, 1.0, 1.0)
    mf_full = self_consistent_rates(full)
    ev_full = np.linalg.eigvals(effective_connectivity(full, mf_full))
    fitting = []
    smallest = None
    for n, k, method in candidates(p, methods):
        spec = make_spec(p, n, k, method=method)
        res = capacity(spec, budget)
        if fits(res, budget):
            fitting.append((spec, res))
        elif smallest is None or spec.total_synapses < smallest[0].total_synapses:
            smallest = (spec, res)
    if not fitting:
        spec, res = smallest
        need = format_needs(res, budget)
        raise UserError(
            f"budget {_fmt_budget(budget)} is too small for any valid model; the "
            f"smallest (n={spec.n_scale:g}, k={spec.k_scale:g}) needs {need}"
        )
    # fidelity is evaluated only for the largest fitting model of each (method, shape)
    best = None
    for spec, res in _frontier(fitting):
        fid = fidelity(spec, mf_full, ev_full)
        score = _score(fid, preserve)
        if best is None or score < best[0]:
            best = (score, spec, res, fid)
    _, spec, res, fid = best
    spec, res = _refine(spec, res, capacity, budget, p)
    if (spec.n_scale, spec.k_scale) != (best[1].n_scale, best[1].k_scale):
        fid = fidelity(spec, mf_full, ev_full)
    fid.update(compensation_split(spec, p, mf_full))
    expl, used = _explanation(spec, res, fid, budget, ev_full)
    res = {**res, "margin": used}
    measured = fidelity_at(spec.method, spec.n_scale, spec.k_scale)  # the atlas, where near
    expl.append(describe_measured(measured))
    return Plan(platform, spec.n_scale, spec.k_scale, spec.method, True, res, budget, fid, expl,
                measured)  # fmt: skip


def _explanation(spec: ModelSpec, res: dict, fid: dict, budget: dict, ev_full) -> tuple:
    """The plan's lines (model, prediction vs budget, what the method keeps, mean-field
    fidelity, eigenvalues, margins, platform settings, the capacity model's notes) and the
    margins used per budget key."""
    shown = {k: v for k, v in res.items() if not isinstance(v, dict | list) and k != SETTINGS}
    corr = (
        f"correlations x{fid['correlation_factor']:.2g}"
        if fid["correlation_factor"] is not None
        else "correlations: no law (W changes)"
    )
    expl = [
        f"n = {spec.n_scale:g}, k = {spec.k_scale:g}, method {spec.method}: "
        f"{spec.total_neurons:,} neurons, {spec.total_synapses:,} synapses",
        "predicted: "
        + ", ".join(f"{k} {_fmt(k, v)}" for k, v in shown.items())
        + f" (budget: {_fmt_budget(budget)})",
        f"{spec.method} {METHOD_EFFECTS[spec.method]}",
        f"mean-field rates within {100 * fid['max_rate_error_rel']:.1f} % of full scale"
        + _split_text(fid)
        + f"; {corr}; effective connectivity x{fid['effective_connectivity_ratio']:.2g}",
        "eigenvalues of the effective connectivity (linearised rate model): largest real part "
        f"{fid['dominant_eigenvalue_re']:.3f} (full scale {ev_full.real.max():.3f}); spectrum "
        f"shifted by {fid['eigenvalue_shift']:.2f}"
        + (" - the network's dynamics change" if fid["eigenvalue_shift"] > 0.1 else ""),
    ]
    margins = margins_of(res)
    used = {k: margins[k] for k in budget if k in margins}
    if used:
        expl.append(
            "safety margin on the prediction: "
            + ", ".join(f"{k} +{100 * v:.0f} %" for k, v in used.items())
            + " (the capacity model's measured error and run-to-run spread)"
        )
    if res.get(SETTINGS):
        expl.append("platform settings: " + ", ".join(f"{k} {v}" for k, v in res[SETTINGS].items()))
    expl += res.get("notes", [])  # the capacity model's own lines (e.g. what sets a slowdown)
    return expl, used


def _refine(spec: ModelSpec, res: dict, capacity, budget: dict, p: Params, steps: int = 12):
    """Bisect the chosen family's free scale between the fitting grid point and the next one
    up (the grid steps by ~9 %), so the plan is the largest model of its family that fits to
    within 0.1 %."""
    if spec.n_scale == 1 and spec.k_scale == 1:
        return spec, res
    lo = spec.n_scale if spec.n_scale < 1 else spec.k_scale
    hi = min(1.0, lo * 1.1)
    for _ in range(steps):
        mid = round(0.5 * (lo + hi), 5)
        if mid <= lo or hi - lo < 1e-3 * lo:
            break
        n = mid if spec.n_scale < 1 else 1.0
        k = mid if spec.k_scale < 1 else 1.0
        cand = make_spec(p, n, k, method=spec.method)
        cres = capacity(cand, budget)
        if fits(cres, budget):
            spec, res, lo = cand, cres, mid
        else:
            hi = mid
    return spec, res


def _frontier(fitting):
    """For each (method, n==1, k==1, n==k) family keep the fitting model with most synapses."""
    best: dict = {}
    for spec, res in fitting:
        fam = (spec.method, spec.n_scale == 1, spec.k_scale == 1, spec.n_scale == spec.k_scale)
        if fam not in best or spec.total_synapses > best[fam][0].total_synapses:
            best[fam] = (spec, res)
    return list(best.values())


def format_needs(resources: dict, budget: dict) -> str:
    """``key=value`` of each budgeted resource, e.g. ``memory=1.20 GiB, threads=3``."""
    return ", ".join(f"{k}={_fmt(k, resources[k])}" for k in budget if k in resources)


def _fmt(key: str, v) -> str:
    if key == "memory":
        return format_bytes(v)
    if key == "walltime":
        return f"{v / 60:.1f}min" if v >= 60 else f"{v:.0f}s"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _fmt_budget(budget: dict) -> str:
    return ",".join(f"{k}={_fmt(k, v)}" for k, v in budget.items())
