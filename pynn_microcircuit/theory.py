"""Mean-field theory of a :class:`~pynn_microcircuit.scaling.ModelSpec` (pure numpy/scipy).

* :func:`input_moments` - mean mu (mV) and variance sigma^2 (mV^2) of each population's input
  in the diffusion approximation (Brunel 2000, J Comput Neurosci 8:183; van Albada et al. 2015):
  ``mu_i = tau_m [sum_j K_ij J_ij nu_j + R_ext,i J_ext] + tau_m I_DC,i / C`` and
  ``sigma2_i = tau_m [sum_j K_ij J_ij^2 nu_j + R_ext,i J_ext^2]``, with ``J = w tau_s / C`` (mV)
  the voltage jump of the equivalent delta synapse, ``R_ext = K_ext nu_ext`` the total external
  Poisson rate (Hz) and tau_m in s for the rate terms (ms/pF with pA for the DC term).
* :func:`siegert` - stationary LIF rate for white-noise input (Siegert 1951) with the
  Fourcaud & Brunel (2002) shift of threshold and reset for exponential synaptic filtering:
  ``y -> y + (alpha/2) sqrt(tau_s/tau_m)``, ``alpha = sqrt(2) abs(zeta(1/2))``.
* :func:`self_consistent_rates` - rates that reproduce themselves through mu(nu), sigma(nu).
* :func:`effective_connectivity_ratio`, :func:`correlation_factor` - what a scaling does to
  network feedback and to pairwise correlations.
"""

from __future__ import annotations

import math

import numpy as np

from .scaling import ModelSpec

# scipy is imported where it is used: the command line imports this module (through the
# planner) before a NEST run builds, and scipy's integrate/optimize/special would add 53 MB
# to the run's peak memory

#: alpha = sqrt(2) abs(zeta(1/2)) (Fourcaud & Brunel 2002, eq. 4.33)
ALPHA_FB = math.sqrt(2.0) * 1.4603545088095868


def _j_mV(spec: ModelSpec, w_pA):
    return np.asarray(w_pA) * spec.neuron["tau_syn_ms"] / spec.neuron["C_m_pF"]


def input_moments(spec: ModelSpec, rates_hz) -> tuple[np.ndarray, np.ndarray]:
    """Mean (mV, relative to E_L) and variance (mV^2) of the input to each population.

    Parameters
    ----------
    spec : ModelSpec
        The model, with its own (rounded) neuron and synapse counts.
    rates_hz : array_like
        Mean rate of each population (Hz).
    """
    nu = np.asarray(rates_hz, dtype=float)
    tau_m_s = spec.neuron["tau_m_ms"] * 1e-3
    k = spec.in_degree
    j = _j_mV(spec, spec.weight_mean_pA)
    j_ext = _j_mV(spec, spec.ext_weight_pA)
    mu = tau_m_s * ((k * j * nu[None, :]).sum(1) + spec.ext_rate_hz * j_ext)
    mu = mu + spec.neuron["tau_m_ms"] * spec.dc_pA / spec.neuron["C_m_pF"]
    s2 = tau_m_s * ((k * j**2 * nu[None, :]).sum(1) + spec.ext_rate_hz * j_ext**2)
    return mu, s2


def siegert(mu, sigma, neuron: dict) -> np.ndarray:
    """Stationary rate (Hz) of a LIF neuron with input mean ``mu`` (mV above E_L) and std
    ``sigma`` (mV), with the Fourcaud-Brunel correction for ``tau_syn``.

    ``nu = 1 / (t_ref + tau_m sqrt(pi) int_{y_r}^{y_th} exp(u^2)(1 + erf u) du)`` with
    ``y = (V - mu)/sigma + (alpha/2) sqrt(tau_s/tau_m)``; times in s.
    """
    from scipy import integrate, special

    def integrand(u):
        # exp(u^2) (1 + erf(u)) = erfcx(-u), stable for large |u|
        return special.erfcx(-u)

    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    sigma = np.atleast_1d(np.asarray(sigma, dtype=float))
    tau_m = neuron["tau_m_ms"] * 1e-3
    t_ref = neuron["t_ref_ms"] * 1e-3
    v_th = neuron["V_th_mV"] - neuron["E_L_mV"]
    v_r = neuron["V_reset_mV"] - neuron["E_L_mV"]
    shift = 0.5 * ALPHA_FB * math.sqrt(neuron["tau_syn_ms"] / neuron["tau_m_ms"])
    out = np.zeros_like(mu)
    for i, (m, s) in enumerate(zip(mu, sigma)):
        if s <= 0:
            out[i] = 0.0 if m <= v_th else 1.0 / (t_ref + tau_m * math.log((m - v_r) / (m - v_th)))
            continue
        y_th = (v_th - m) / s + shift
        y_r = (v_r - m) / s + shift
        if y_r > 30:  # far below threshold: rate underflows
            out[i] = 0.0
            continue
        val, _ = integrate.quad(integrand, y_r, y_th, limit=200)
        out[i] = 1.0 / (t_ref + tau_m * math.sqrt(math.pi) * val)
    return out


def self_consistent_rates(spec: ModelSpec, guess_hz=None, tol: float = 1e-10) -> np.ndarray:
    """Rates (Hz) solving ``nu = siegert(mu(nu), sigma(nu))`` for ``spec``.

    Solved with MINPACK's hybrid method from ``guess_hz`` (default: the compensation rates),
    falling back to relaxation ``dnu/dt = -nu + Phi(nu)`` if that fails.
    """
    from scipy import optimize

    nu0 = np.asarray(spec.rates_for_compensation_hz if guess_hz is None else guess_hz, float)

    def phi(nu):
        mu, s2 = input_moments(spec, np.clip(nu, 0, None))
        return siegert(mu, np.sqrt(s2), spec.neuron)

    sol = optimize.root(lambda nu: phi(nu) - nu, nu0, method="hybr", tol=tol)
    if sol.success and np.all(sol.x >= 0):
        return sol.x
    nu = nu0.copy()
    for _ in range(5000):  # relaxation, step 0.1 of the time constant
        new = nu + 0.1 * (phi(nu) - nu)
        if np.max(np.abs(new - nu)) < 1e-9:
            return new
        nu = new
    raise RuntimeError("mean-field rates did not converge")


def effective_connectivity_ratio(spec: ModelSpec, full: ModelSpec) -> np.ndarray:
    """``K' J' / (K J)`` per projection: how a scaling changes the network's linear feedback
    (1 for ``n`` and ``linear-k``, sqrt(k) for ``sqrt-k``, k for ``none``)."""
    a = spec.in_degree * spec.weight_mean_pA
    b = full.in_degree * full.weight_mean_pA
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b != 0, a / b, np.nan)


def rate_map(spec: ModelSpec, rates_hz) -> np.ndarray:
    """``Phi(nu) = siegert(mu(nu), sigma(nu))`` (Hz): the rates the inputs of ``rates_hz``
    produce; its fixed point is :func:`self_consistent_rates`."""
    mu, s2 = input_moments(spec, np.clip(np.asarray(rates_hz, float), 0, None))
    return siegert(mu, np.sqrt(s2), spec.neuron)


def effective_connectivity(spec: ModelSpec, rates_hz=None, rel_step: float = 1e-4) -> np.ndarray:
    """The linearised rate model's effective connectivity ``M_ij = dPhi_i / dnu_j`` at the
    fixed point (dimensionless): how a change of population j's rate changes population i's
    through the mean and the variance of its input (Helias et al. 2013, New J Phys
    15:023002; van Albada, Helias & Diesmann 2015, PLoS Comput Biol 11:e1004490, whose
    eigenvalues of this matrix decide whether a downscaled network keeps its dynamics).
    Central differences with step ``rel_step`` x rate."""
    nu = np.asarray(self_consistent_rates(spec) if rates_hz is None else rates_hz, float)
    n = nu.size
    m = np.zeros((n, n))
    for j in range(n):
        h = max(rel_step * nu[j], 1e-6)
        up, down = nu.copy(), nu.copy()
        up[j] += h
        down[j] = max(down[j] - h, 0.0)
        m[:, j] = (rate_map(spec, up) - rate_map(spec, down)) / (up[j] - down[j])
    return m


def dominant_eigenvalue(spec: ModelSpec, rates_hz=None) -> complex:
    """The eigenvalue of :func:`effective_connectivity` with the largest real part (the
    linear rate dynamics ``tau dnu/dt = -nu + Phi(nu)`` are stable while it is below 1)."""
    ev = np.linalg.eigvals(effective_connectivity(spec, rates_hz))
    return complex(ev[np.argmax(ev.real)])


#: Effective connectivity W' / W = K'J' / (KJ) of each method at in-degree scaling k.
def w_ratio(method: str, k_scale: float) -> float:
    """``K' J' / (K J)`` of a downscaling method: 1 for ``n`` and ``linear-k`` (J ~ 1/K),
    sqrt(k) for ``sqrt-k`` (J ~ 1/sqrt(K)), k for ``none`` (J unchanged)."""
    return {"n": 1.0, "linear-k": 1.0, "sqrt-k": math.sqrt(k_scale), "none": k_scale}[method]


def correlation_law(n_test: float, w_test: float, n_ref: float, w_ref: float):
    """Expected ratio of mean pairwise correlations (test / reference), or None.

    Population-averaged covariances of a balanced network scale as 1/N when the effective
    connectivity W = K J is kept (van Albada, Helias & Diesmann 2015, PLoS Comput Biol
    11:e1004490, Sec. "Scaling of correlations"; Helias et al. 2013, New J Phys 15:023002);
    with rates and variances unchanged the correlation coefficients follow. Hence
    ``n_ref / n_test`` between runs with equal W, whatever their in-degrees. When W differs
    (``sqrt-k``, ``none``) the linear fluctuation dynamics change and no such law exists
    (the seed abstract: the scaling "qualitatively changes the network state").

    Returns
    -------
    (float or None, str)
        The factor and a one-line reason.
    """
    if abs(w_test / w_ref - 1.0) > 1e-9:
        return None, (
            f"no correlation law: the effective connectivity W = K J differs "
            f"(x{w_test / w_ref:.3g}), which changes the correlation structure itself"
        )
    return n_ref / n_test, "W = K J kept: mean correlations scale as 1/N (van Albada et al. 2015)"


def correlation_factor(spec: ModelSpec):
    """Expected growth of mean pairwise correlations relative to full scale
    (:func:`correlation_law` against n = k = 1): ``1/n`` for methods that keep W = K J
    (``n``, ``linear-k``), None for those that change it (``sqrt-k``, ``none``)."""
    return correlation_law(spec.n_scale, w_ratio(spec.method, spec.k_scale), 1.0, 1.0)[0]


def correlation_note(spec: ModelSpec) -> str:
    """Why :func:`correlation_factor` is what it is."""
    return correlation_law(spec.n_scale, w_ratio(spec.method, spec.k_scale), 1.0, 1.0)[1]
