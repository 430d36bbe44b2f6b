"""Downscaling rules: (params, n, k, method) -> :class:`ModelSpec`, the numbers a simulator needs.

``n = N'/N`` scales neuron numbers, ``k = K'/K`` in-degrees. Methods (van Albada, Helias &
Diesmann 2015, PLoS Comput Biol 11:e1004490, section "Scaling"):

``n``
    N-scaling with in-degrees kept (requires ``k = 1``). Weights unchanged; mean and variance
    of the input unchanged; pairwise correlations grow about as 1/n.
``sqrt-k``
    K-scaling with J -> J/sqrt(k) for recurrent and external synapses, external in-degree scaled
    like the recurrent ones, and a DC current restoring the lost mean (NEST's reference method).
``linear-k``
    K-scaling with J -> J/k (keeps the mean recurrent input and the effective connectivity); the
    recurrent variance grows by 1/k and is compensated by lowering the external Poisson rate,
    the lost external mean restored with DC. Impossible below
    ``k_min = sigma2_rec / (sigma2_rec + sigma2_ext)`` unless ``allow_partial``.
``none``
    K-scaling without compensation (to show the damage).

This module is pure numpy: no simulator import.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .errors import UserError
from .params import Params, psc_over_psp

METHODS = ("n", "sqrt-k", "linear-k", "none")


@dataclass(frozen=True)
class ModelSpec:
    """All numbers needed to build one instance of the model (units in the names).

    Matrices are ``[target, source]``. ``ext_rate_hz`` is the total Poisson rate a single neuron
    receives (``bg_rate * k_ext``), delivered with weight ``ext_weight_pA``; ``dc_pA`` is the
    constant current per neuron (K-scaling compensation, plus the Poisson drive itself when
    ``input == 'dc'``).
    """

    populations: tuple[str, ...]
    n_scale: float
    k_scale: float
    method: str
    input: str
    resolution_ms: float
    n_neurons: np.ndarray
    n_synapses: np.ndarray
    weight_mean_pA: np.ndarray
    weight_sd_pA: np.ndarray
    delay_mean_ms: np.ndarray
    delay_sd_ms: np.ndarray
    delay_min_ms: float
    k_ext: np.ndarray
    ext_rate_hz: np.ndarray
    ext_weight_pA: float
    ext_delay_ms: float
    dc_pA: np.ndarray
    v0_mean_mV: np.ndarray
    v0_sd_mV: np.ndarray
    neuron: dict
    rates_for_compensation_hz: np.ndarray
    rates_source: str
    thalamus: dict | None = None
    residual_variance_rel: np.ndarray | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def n_pops(self) -> int:
        return len(self.populations)

    @property
    def total_neurons(self) -> int:
        return int(self.n_neurons.sum())

    @property
    def total_synapses(self) -> int:
        """Recurrent synapses (thalamic ones not included)."""
        return int(self.n_synapses.sum())

    @property
    def in_degree(self) -> np.ndarray:
        """Mean in-degree ``K[target, source] = S / N_target`` of this spec."""
        return self.n_synapses / self.n_neurons[:, None]

    def to_dict(self) -> dict:
        """JSON-serialisable copy (arrays become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = _jsonable(v)
        out["total_neurons"] = self.total_neurons
        out["total_synapses"] = self.total_synapses
        return out


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------------------ full-scale numbers


def full_synapse_numbers(p: Params) -> np.ndarray:
    """Expected total synapses ``S[i, j]`` at full scale (float).

    ``S = ln(1 - p) / ln(1 - 1/(N_i N_j))``: the number of draws with replacement that gives
    connection probability ``p`` (PD14 eq. 1; multapses and autapses allowed). Evaluated as
    ``ln(1-p) / ln((N_i N_j - 1)/(N_i N_j))`` like the reference implementation, whose rounding
    gives the published 298,880,968 synapses (the more precise ``log1p`` form gives 2 more).
    """
    n = np.asarray(p.n_full, dtype=float)
    prob = np.asarray(p.conn_probs, dtype=float)
    prod = np.outer(n, n)
    return np.log(1.0 - prob) / np.log((prod - 1.0) / prod)


def full_in_degrees(p: Params) -> np.ndarray:
    """Full-scale mean in-degree ``K[i, j] = S[i, j] / N_i``."""
    return full_synapse_numbers(p) / np.asarray(p.n_full, dtype=float)[:, None]


def full_weights_pA(p: Params) -> np.ndarray:
    """Mean PSC amplitudes ``w[i, j]`` (pA) at full scale: J_E, g J_E, and 2 J_E for L4E->L23E."""
    j_e = p.psp_mean_mV * psc_over_psp(p.neuron)
    exc = p.excitatory()
    w = np.where(exc[None, :], j_e, p.g * j_e) * np.ones((p.n_pops, p.n_pops))
    target, source = p.l4e_to_l23e_pair  # by position: renaming keeps it
    w[target, source] *= p.l4e_to_l23e_factor
    return w


def ext_weight_pA(p: Params) -> float:
    """External (Poisson) PSC amplitude: J_E (pA)."""
    return p.psp_mean_mV * psc_over_psp(p.neuron)


def psc_to_psp_integral_mV(p: Params) -> float:
    """Voltage kick per pA of PSC amplitude in the diffusion limit: ``tau_s / C`` (mV/pA).

    The integrated charge of ``w exp(-t/tau_s)`` is ``w tau_s``; divided by C it is the
    jump ``J = w tau_s / C`` (pA ms / pF = mV) of the equivalent delta synapse.
    """
    return p.neuron.tau_syn_ms / p.neuron.C_m_pF


def input_moments_full(p: Params, rates_hz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (mV) and recurrent / external variance (mV^2) of the full-scale input.

    Diffusion approximation (Brunel 2000; van Albada et al. 2015, eqs. 2-3): ``mu = tau_m sum_j K_ij J_ij nu_j + tau_m K_ext
    J_ext nu_ext`` and ``sigma2 = tau_m sum_j K_ij J_ij^2 nu_j`` (recurrent) and ``tau_m K_ext
    J_ext^2 nu_ext`` (external), with ``J = w tau_s / C`` (mV), tau_m in s and rates in Hz.
    """
    nu = np.asarray(rates_hz, dtype=float)
    tau_m_s = p.neuron.tau_m_ms * 1e-3
    c = psc_to_psp_integral_mV(p)
    j = full_weights_pA(p) * c
    k = full_in_degrees(p)
    j_ext = ext_weight_pA(p) * c
    k_ext = np.asarray(p.k_ext, dtype=float)
    mu = tau_m_s * ((k * j * nu[None, :]).sum(1) + k_ext * j_ext * p.bg_rate_hz)
    s2_rec = tau_m_s * (k * j**2 * nu[None, :]).sum(1)
    s2_ext = tau_m_s * k_ext * j_ext**2 * p.bg_rate_hz
    return mu, s2_rec, s2_ext


def linear_k_min(p: Params, rates_hz=None) -> np.ndarray:
    """Smallest k per population for which ``linear-k`` can keep the input variance.

    ``k_min = sigma2_rec / (sigma2_rec + sigma2_ext)``: the external variance that must be
    removed, ``(1/k - 1) sigma2_rec``, cannot exceed what there is (van Albada et al. 2015: the variance is kept by extra
    external drive, which can only add variance).
    """
    rates = p.full_rates_hz if rates_hz is None else rates_hz
    _, s2_rec, s2_ext = input_moments_full(p, rates)
    return s2_rec / (s2_rec + s2_ext)


# ---------------------------------------------------------------------------------- the spec


def make_spec(
    p: Params,
    n_scale: float = 1.0,
    k_scale: float = 1.0,
    method: str | None = None,
    input: str = "poisson",
    rates_hz=None,
    rates_source: str = "published",
    allow_partial: bool = False,
) -> ModelSpec:
    """Build the :class:`ModelSpec` for N-scaling ``n_scale`` and K-scaling ``k_scale``.

    Parameters
    ----------
    p : Params
        Full-scale parameters.
    n_scale, k_scale : float
        ``N'/N`` and ``K'/K``, both in (0, 1].
    method : {'n', 'sqrt-k', 'linear-k', 'none'}, optional
        Default: ``'n'`` when ``k_scale == 1``, else ``'sqrt-k'``.
    input : {'poisson', 'dc'}
        External drive: independent Poisson trains or the equivalent DC.
    rates_hz : array_like, optional
        Full-scale rates used by the compensations (default: the published table).
    rates_source : str
        Where ``rates_hz`` came from (recorded in the spec).
    allow_partial : bool
        ``linear-k`` below its k_min: remove all external variance and record the residual.

    Raises
    ------
    UserError
        Scales outside (0, 1], an unknown method, ``n`` with k != 1, a scale that leaves a
        population empty, or ``linear-k`` below k_min without ``allow_partial``.
    """
    method = method or ("n" if k_scale == 1 else "sqrt-k")
    _check_arguments(method, n_scale, k_scale, input)
    nu = np.asarray(p.full_rates_hz if rates_hz is None else rates_hz, dtype=float)
    if nu.shape != (p.n_pops,) or np.any(nu < 0) or not np.all(np.isfinite(nu)):
        raise UserError(f"full-scale rates must be {p.n_pops} non-negative numbers, got {nu}")
    n_neurons, n_synapses = _counts(p, n_scale, k_scale)
    rule = RULES[method]
    c = rule.compensate(p, k_scale, nu, allow_partial)
    notes = list(c.notes)
    dc, ext_rate = c.dc, c.ext_rate
    if input == "dc":
        dc = dc + 1e-3 * p.neuron.tau_syn_ms * c.w_ext * ext_rate
        ext_rate = np.zeros(p.n_pops)
        notes.append("external Poisson drive replaced by its mean as DC")
    v0_mean, v0_sd = _initial_potentials(p)
    d_mean = np.tile(np.where(p.excitatory(), p.delay_exc_mean_ms, p.delay_inh_mean_ms),
                     (p.n_pops, 1))  # fmt: skip
    thal = _thalamus(p, n_neurons, k_scale, rule) if p.thalamus.enabled else None
    return ModelSpec(
        populations=tuple(p.populations),
        n_scale=float(n_scale),
        k_scale=float(k_scale),
        method=method,
        input=input,
        resolution_ms=p.resolution_ms,
        n_neurons=n_neurons,
        n_synapses=n_synapses,
        weight_mean_pA=c.w,
        weight_sd_pA=np.abs(c.w) * p.weight_rel_sd,
        delay_mean_ms=d_mean,
        delay_sd_ms=d_mean * p.delay_rel_sd,
        delay_min_ms=0.5 * p.resolution_ms,
        k_ext=c.k_ext,
        ext_rate_hz=ext_rate,
        ext_weight_pA=float(c.w_ext),
        ext_delay_ms=p.delay_ext_ms,
        dc_pA=dc,
        v0_mean_mV=v0_mean,
        v0_sd_mV=v0_sd,
        neuron=dataclasses.asdict(p.neuron),
        rates_for_compensation_hz=nu,
        rates_source=rates_source,
        thalamus=thal,
        residual_variance_rel=c.residual,
        notes=tuple(notes),
    )


def _check_arguments(method: str, n_scale, k_scale, input: str) -> None:
    if method not in METHODS:
        raise UserError(f"unknown scaling method '{method}'; choose one of {', '.join(METHODS)}")
    for name, v in (("n_scale", n_scale), ("k_scale", k_scale)):
        if not (isinstance(v, (int, float)) and 0 < v <= 1):
            raise UserError(f"{name} must be a number in (0, 1], got {v!r}", name, v)
    if method == "n" and k_scale != 1:
        raise UserError(
            "method 'n' keeps in-degrees, so k_scale must be 1; use sqrt-k, linear-k or none "
            "to reduce in-degrees",
            "k_scale",
            k_scale,
        )
    if input not in ("poisson", "dc"):
        raise UserError(f"input must be 'poisson' or 'dc', got {input!r}", "input", input)


def _counts(p: Params, n_scale: float, k_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Neurons per population and synapses per projection (target row, source column).

    The in-degree is kept exactly: S scales with the *rounded* neuron count of the target
    (the NEST example scales S by n, which shifts in-degrees by up to 0.5 % where N n
    rounds)."""
    n_full = np.asarray(p.n_full, dtype=float)
    n_neurons = np.round(n_full * n_scale).astype(np.int64)
    if np.any(n_neurons < 1):
        empty = [p.populations[i] for i in np.flatnonzero(n_neurons < 1)]
        smallest = 0.5 / n_full.min()
        raise UserError(
            f"n_scale {n_scale} leaves no neurons in {', '.join(empty)}; use n >= {smallest:.4f}",
            "n_scale",
            n_scale,
        )
    factor = (k_scale * n_neurons / n_full)[:, None]
    return n_neurons, np.round(full_synapse_numbers(p) * factor).astype(np.int64)


def _initial_potentials(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (mV) of the initial membrane potentials per population."""
    if p.v0_type == "optimized":
        return np.asarray(p.v0_mean_mV, dtype=float), np.asarray(p.v0_sd_mV, dtype=float)
    return np.full(p.n_pops, p.v0_original_mean_mV), np.full(p.n_pops, p.v0_original_sd_mV)


def _thalamus(p: Params, n_neurons: np.ndarray, k_scale: float, rule: ScalingRule) -> dict:
    """The thalamic input of Potjans & Diesmann (2014), scaled as the recurrent synapses are:
    synapse numbers from the connection probabilities (their Eq. 1), in-degrees times k, the
    weight divided by the method's :attr:`ScalingRule.weight_divisor`."""
    th = p.thalamus
    n_full = np.asarray(p.n_full, dtype=float)
    prod = th.n_neurons * n_full
    s_th = np.log(1.0 - np.asarray(th.conn_probs)) / np.log((prod - 1.0) / prod)
    s_th = np.round(s_th / n_full * k_scale * n_neurons).astype(np.int64)
    w_th = th.psp_mV * psc_over_psp(p.neuron) / rule.weight_divisor(k_scale)
    return {
        "n_neurons": th.n_neurons,
        "rate_hz": th.rate_hz,
        "start_ms": th.start_ms,
        "duration_ms": th.duration_ms,
        "n_synapses": s_th,
        "weight_mean_pA": w_th,
        "weight_sd_pA": w_th * p.weight_rel_sd,
        "delay_mean_ms": th.delay_mean_ms,
        "delay_sd_ms": th.delay_mean_ms * th.delay_rel_sd,
    }


@dataclass(frozen=True)
class Compensation:
    """What a scaling method makes of the input: recurrent weights ``w`` (pA, target x
    source), external weight ``w_ext`` (pA), in-degree ``k_ext`` and rate ``ext_rate`` (Hz)
    of the external drive, compensating DC ``dc`` (pA), the residual input variance
    (``linear-k`` only; relative) and notes."""

    w: np.ndarray
    w_ext: float
    k_ext: np.ndarray
    ext_rate: np.ndarray
    dc: np.ndarray
    residual: np.ndarray | None = None
    notes: tuple[str, ...] = ()


class ScalingRule:
    """A downscaling method: the weight divisor (recurrent and thalamic weights are divided
    by it) and the compensation of the lost input."""

    def weight_divisor(self, k_scale: float) -> float:
        return 1.0

    def compensate(self, p: Params, k_scale: float, nu: np.ndarray, allow_partial: bool):
        raise NotImplementedError


class KeepWeights(ScalingRule):
    """``n`` (in-degrees kept) and ``none`` (in-degrees cut, nothing compensated): full-scale
    weights; the external in-degree scales with k."""

    def compensate(self, p, k_scale, nu, allow_partial):
        k_ext = np.asarray(p.k_ext, dtype=float) * k_scale
        notes = ()
        if k_scale != 1:
            notes = ("in-degrees reduced without compensation: mean and variance change",)
        return Compensation(
            w=full_weights_pA(p) / self.weight_divisor(k_scale), w_ext=ext_weight_pA(p),
            k_ext=k_ext, ext_rate=p.bg_rate_hz * k_ext, dc=np.zeros(p.n_pops), notes=notes,
        )  # fmt: skip


class SqrtK(ScalingRule):
    """van Albada, Helias & Diesmann (2015): weights x 1/sqrt(k) keep the input variance;
    the lost mean is restored as DC,
    ``Delta I = 1e-3 tau_s (1 - sqrt k) [sum_j w_ij K_ij nu_j + w_ext K_ext nu_ext]`` (pA;
    tau_s in ms, rates in Hz, hence 1e-3), with full-scale w, K and nu."""

    def weight_divisor(self, k_scale):
        return math.sqrt(k_scale)

    def compensate(self, p, k_scale, nu, allow_partial):
        sk = self.weight_divisor(k_scale)
        w_full, w_ext = full_weights_pA(p), ext_weight_pA(p)
        k_ext_full = np.asarray(p.k_ext, dtype=float)
        k_ext = k_ext_full * k_scale
        drive = (w_full * full_in_degrees(p) * nu[None, :]).sum(1)
        drive = drive + w_ext * k_ext_full * p.bg_rate_hz
        return Compensation(
            w=w_full / sk, w_ext=w_ext / sk, k_ext=k_ext, ext_rate=p.bg_rate_hz * k_ext,
            dc=1e-3 * p.neuron.tau_syn_ms * (1.0 - sk) * drive,
        )  # fmt: skip


class LinearK(ScalingRule):
    """van Albada et al. (2015): weights x 1/k keep the recurrent mean; the external
    variance is cut by the recurrent variance gained, ``s2_ext' = s2_ext - (1/k - 1) s2_rec``
    (possible down to ``k_min = s2_rec / (s2_rec + s2_ext)``), and the external mean lost
    with it restored as DC ``1e-3 tau_s w_ext (R_full - R')`` (pA)."""

    def weight_divisor(self, k_scale):
        return k_scale

    def compensate(self, p, k_scale, nu, allow_partial):
        w_ext = ext_weight_pA(p)
        k_ext_full = np.asarray(p.k_ext, dtype=float)
        _, s2_rec, s2_ext = input_moments_full(p, nu)
        s2_ext_new = s2_ext - (1.0 / k_scale - 1.0) * s2_rec
        bad = s2_ext_new < 0
        residual, notes = np.zeros(p.n_pops), ()
        if np.any(bad):
            kmin = s2_rec / (s2_rec + s2_ext)
            names = ", ".join(
                f"{p.populations[i]} (k_min {kmin[i]:.2f})" for i in np.flatnonzero(bad)
            )
            if not allow_partial:
                raise UserError(
                    f"linear-k cannot keep the input variance at k={k_scale}: {names}; use "
                    f"k >= {kmin.max():.2f}, another method, or allow_partial=True",
                    "k_scale",
                    k_scale,
                )
            residual = np.where(bad, -s2_ext_new / (s2_rec + s2_ext), 0.0)
            s2_ext_new = np.clip(s2_ext_new, 0.0, None)
            notes = (f"linear-k below k_min for {names}: external variance set to 0",)
        frac = s2_ext_new / s2_ext
        ext_rate = p.bg_rate_hz * k_ext_full * frac
        dc = 1e-3 * p.neuron.tau_syn_ms * w_ext * (p.bg_rate_hz * k_ext_full - ext_rate)
        return Compensation(
            w=full_weights_pA(p) / k_scale, w_ext=w_ext, k_ext=k_ext_full * frac,
            ext_rate=ext_rate, dc=dc, residual=residual, notes=notes,
        )  # fmt: skip


#: The rule of each method name.
RULES: dict[str, ScalingRule] = {
    "n": KeepWeights(), "none": KeepWeights(), "sqrt-k": SqrtK(), "linear-k": LinearK(),
}  # fmt: skip
