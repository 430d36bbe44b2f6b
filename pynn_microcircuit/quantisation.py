"""Input errors of quantised synaptic weights (pure maths, no simulator).

A weight stored as an integer multiple of a quantum q (rounded to the nearest, as
sPyNNaker's host does with ``numpy.rint``) changes the moments of each neuron's input. For the
model's weight distributions (normal, redrawn within their sign: a truncated normal) the
moments of the rounded weight are exact sums over the rounding bins. For each target
population: the relative error of the input's variance ``sum_j K_ij nu_j E[w^2]`` (shot
noise, Campbell's theorem) and of its mean ``sum_j K_ij nu_j E[w]`` relative to the total
drive ``sum_j K_ij nu_j |E[w]|`` (the net mean of a balanced input is near zero, so it is
not the divisor), including the external Poisson drive; rates are the full-scale rates of
the compensation (Hz), weights and quanta in pA. Fine quanta reproduce Sheppard's correction
(``E[Q^2] = E[w^2] + q^2 / 12``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .scaling import ModelSpec

#: Largest relative change of a population's input mean (of its total drive) or variance
#: that the weight resolution may cause before a plan flags it: 1 %, well below what a
#: comparison can see (rate changes of 3-33 % at n = k = 0.1, README).
TOLERANCE = 0.01


def quantised_moments(mean: float, sd: float, quantum: float) -> tuple[float, float, float, float]:
    """(E[w], E[w^2], E[Q(w)], E[Q(w)^2]) of a normal(mean, sd) redrawn within its sign
    (truncated at 0) and rounded to the nearest multiple of ``quantum`` (same units)."""
    sign = 1.0 if mean >= 0 else -1.0
    m = abs(mean)
    if sd <= 0:
        q = quantum * np.rint(m / quantum)
        return sign * m, m * m, sign * q, q * q
    a = (0.0 - m) / sd
    dist = stats.truncnorm(a, np.inf, loc=m, scale=sd)
    e1, var = float(dist.mean()), float(dist.var())
    kmax = int(np.ceil((m + 10 * sd) / quantum)) + 1
    k = np.arange(0, kmax + 1)
    edges = np.clip((k - 0.5) * quantum, 0.0, None)
    upper = (k + 0.5) * quantum
    p = dist.cdf(upper) - dist.cdf(edges)
    q1 = float(np.sum(p * k * quantum))
    q2 = float(np.sum(p * (k * quantum) ** 2))
    return sign * e1, var + e1 * e1, sign * q1, q2


def input_errors(spec: ModelSpec, quanta: dict) -> dict:
    """Per target population the relative errors of its input's mean and variance that the
    weight quanta (``weight_quanta_pA``) cause (see the module docstring)."""
    nu = np.asarray(spec.rates_for_compensation_hz, float)
    out = {}
    for i, tgt in enumerate(spec.populations):
        q = quanta[tgt]
        mean = mean_q = drive = var = var_q = 0.0
        for j in range(spec.n_pops):
            n = spec.n_synapses[i, j]
            if n == 0:
                continue
            k = n / spec.n_neurons[i]  # in-degree
            w = spec.weight_mean_pA[i, j]
            quantum = q["excitatory" if w >= 0 else "inhibitory"]
            e1, e2, q1, q2 = quantised_moments(w, spec.weight_sd_pA[i, j], quantum)
            mean, mean_q, drive = (
                mean + k * nu[j] * e1,
                mean_q + k * nu[j] * q1,
                drive + k * nu[j] * abs(e1),
            )
            var, var_q = var + k * nu[j] * e2, var_q + k * nu[j] * q2
        if spec.ext_rate_hz[i] > 0:
            e1, e2, q1, q2 = quantised_moments(spec.ext_weight_pA, 0.0, q["excitatory"])
            r = spec.ext_rate_hz[i]
            mean, mean_q, drive = mean + r * e1, mean_q + r * q1, drive + r * abs(e1)
            var, var_q = var + r * e2, var_q + r * q2
        out[tgt] = {
            "input_mean_rel_error": (mean_q - mean) / drive if drive else 0.0,
            "input_variance_rel_error": (var_q - var) / var if var else 0.0,
        }
    return out


def summary(spec: ModelSpec, quanta: dict) -> dict:
    """``quanta`` (:func:`input_errors`' argument) with the input errors they cause for
    ``spec``, the largest of each, and whether they stay within :data:`TOLERANCE`."""
    errors = input_errors(spec, quanta)
    m = float(max(abs(e["input_mean_rel_error"]) for e in errors.values()))
    v = float(max(abs(e["input_variance_rel_error"]) for e in errors.values()))
    return {
        "weight_quantum_pA": quanta,
        "input_errors": errors,
        "max_input_mean_rel_error": m,
        "max_input_variance_rel_error": v,
        "tolerance": TOLERANCE,
        "within_tolerance": bool(max(m, v) <= TOLERANCE),
    }
