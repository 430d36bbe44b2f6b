"""Published parameters of the Potjans & Diesmann (2014) microcircuit.

All values are immutable and carry their unit in the field name (``_ms``, ``_mV``, ``_pF``,
``_pA``, ``_hz``). Sources: Potjans & Diesmann (2014), Cereb. Cortex 24:785, Tables 4-5, as
maintained in INM-6/microcircuit-PD14-model (``microcircuit/network_params.py``,
``sim_params.py``) and NEST's former ``Potjans_2014`` example.

A YAML file can override any field (see :func:`load_params`). Population order everywhere is
L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I; matrices are indexed ``[target, source]``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError

POPULATIONS: tuple[str, ...] = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")

_CONN_PROBS = (
    (0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0),
    (0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0),
    (0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0),
    (0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0),
    (0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0),
    (0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0),
    (0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252),
    (0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443),
)


@dataclass(frozen=True)
class NeuronParams:
    """Leaky integrate-and-fire neuron with exponential current synapses (PyNN ``IF_curr_exp``)."""

    C_m_pF: float = 250.0
    tau_m_ms: float = 10.0
    E_L_mV: float = -65.0
    V_reset_mV: float = -65.0
    V_th_mV: float = -50.0
    t_ref_ms: float = 2.0
    tau_syn_ms: float = 0.5


@dataclass(frozen=True)
class ThalamusParams:
    """Optional thalamic pulse (PD14 stimulus parameters); the 902 relay cells are not scaled."""

    enabled: bool = False
    n_neurons: int = 902
    rate_hz: float = 120.0
    start_ms: float = 700.0
    duration_ms: float = 10.0
    conn_probs: tuple[float, ...] = (0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196)
    psp_mV: float = 0.15
    delay_mean_ms: float = 1.5
    delay_rel_sd: float = 0.4


@dataclass(frozen=True)
class Params:
    """The full PD14 parameter set.

    Attributes
    ----------
    populations : tuple of str
        Population names, in the order of every per-population parameter.
    population_roles : tuple of str
        ``"E"`` (excitatory) or ``"I"`` (inhibitory) per population: which weight sign and
        delay its outgoing synapses take.
    n_full : tuple of int
        Neurons per population at full scale.
    k_ext : tuple of float
        External (Poisson) in-degree per population at full scale.
    full_rates_hz : tuple of float
        Published full-scale mean rates (Hz), used by the K-scaling compensations.
    conn_probs : tuple of tuple of float
        Connection probability ``p[target][source]``.
    psp_mean_mV : float
        Mean peak PSP amplitude of an excitatory synapse (mV); converted to a PSC (pA).
    g : float
        Relative inhibitory weight (J_I = g J_E).
    l4e_to_l23e_factor : float
        The L4E -> L23E weight is this many times J_E.
    l4e_to_l23e_pair : tuple of int
        (target, source) population indices of that projection (by position, so renaming
        the populations keeps it).
    bg_rate_hz : float
        Rate of each external Poisson source (Hz); a neuron receives ``k_ext`` of them.
    """

    populations: tuple[str, ...] = POPULATIONS
    population_roles: tuple[str, ...] = ("E", "I", "E", "I", "E", "I", "E", "I")
    n_full: tuple[int, ...] = (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)
    k_ext: tuple[float, ...] = (1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100)
    full_rates_hz: tuple[float, ...] = (0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829)
    v0_type: str = "optimized"
    v0_mean_mV: tuple[float, ...] = (-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43)
    v0_sd_mV: tuple[float, ...] = (5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48)
    v0_original_mean_mV: float = -58.0
    v0_original_sd_mV: float = 10.0
    conn_probs: tuple[tuple[float, ...], ...] = _CONN_PROBS
    neuron: NeuronParams = field(default_factory=NeuronParams)
    psp_mean_mV: float = 0.15
    weight_rel_sd: float = 0.1
    g: float = -4.0
    l4e_to_l23e_factor: float = 2.0
    l4e_to_l23e_pair: tuple[int, ...] = (0, 2)
    delay_exc_mean_ms: float = 1.5
    delay_inh_mean_ms: float = 0.75
    delay_rel_sd: float = 0.5
    delay_ext_ms: float = 1.5
    bg_rate_hz: float = 8.0
    resolution_ms: float = 0.1
    thalamus: ThalamusParams = field(default_factory=ThalamusParams)

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def n_pops(self) -> int:
        return len(self.populations)

    def excitatory(self) -> np.ndarray:
        """Boolean mask of excitatory populations (``population_roles`` "E"; stated, not
        read from the names, so renaming a population changes nothing else)."""
        return np.array([r == "E" for r in self.population_roles])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def psc_over_psp(neuron: NeuronParams) -> float:
    """PSC amplitude (pA) that gives a peak PSP of 1 mV.

    For a current ``I(t) = I0 exp(-t/tau_s)`` into a LIF membrane (C, tau_m) the voltage is
    ``V(t) = I0 tau_s tau_m / (C (tau_m - tau_s)) (exp(-t/tau_m) - exp(-t/tau_s))``, peaking at
    ``t* = tau_m tau_s ln(tau_m/tau_s) / (tau_m - tau_s)``. Returns ``I0 / V(t*)`` in pA/mV
    (ms, pF); 585.39 pA/mV for the PD14 neuron.
    """
    c, tm, ts = neuron.C_m_pF, neuron.tau_m_ms, neuron.tau_syn_ms
    if math.isclose(tm, ts):
        # limit tau_s -> tau_m: V(t) = I0 t/C exp(-t/tau), peak at t = tau
        return c / (tm * math.exp(-1.0))
    t_peak = tm * ts * math.log(tm / ts) / (tm - ts)
    v_peak = ts * tm / (c * (tm - ts)) * (math.exp(-t_peak / tm) - math.exp(-t_peak / ts))
    return 1.0 / v_peak


# ---------------------------------------------------------------- validation and YAML overrides


def _validate(p: Params) -> None:
    n = len(p.populations)
    if len(p.l4e_to_l23e_pair) != 2 or not all(0 <= i < n for i in p.l4e_to_l23e_pair):
        raise UserError(f"parameter 'l4e_to_l23e_pair' must be [target, source] indices below {n}")
    if len(p.population_roles) != n or set(p.population_roles) - {"E", "I"}:
        raise UserError(
            f"parameter 'population_roles' must give 'E' or 'I' for each of the {n} "
            f"populations ({', '.join(p.population_roles)} given)"
        )
    for name in ("n_full", "k_ext", "full_rates_hz", "v0_mean_mV", "v0_sd_mV"):
        if len(getattr(p, name)) != n:
            raise UserError(
                f"parameter '{name}' has {len(getattr(p, name))} values; expected one per "
                f"population ({n}: {', '.join(p.populations)})"
            )
    for name in ("n_full", "k_ext", "full_rates_hz", "v0_sd_mV"):
        if any(v < 0 for v in getattr(p, name)):
            raise UserError(
                f"parameter '{name}' has a negative value; sizes and rates must be >= 0"
            )
    if any(v <= 0 for v in p.n_full):
        raise UserError("parameter 'n_full' must be positive for every population")
    if len(p.conn_probs) != n or any(len(r) != n for r in p.conn_probs):
        raise UserError(f"parameter 'conn_probs' must be a {n}x{n} list of lists [target][source]")
    if any(not 0 <= v < 1 for r in p.conn_probs for v in r):
        raise UserError("parameter 'conn_probs' values must lie in [0, 1)")
    if len(p.thalamus.conn_probs) != n:
        raise UserError(f"parameter 'thalamus.conn_probs' must have {n} values")
    if p.v0_type not in ("optimized", "original"):
        raise UserError("parameter 'v0_type' must be 'optimized' or 'original'")
    for name in ("bg_rate_hz", "resolution_ms", "delay_ext_ms", "psp_mean_mV",
                 "weight_rel_sd", "delay_rel_sd"):  # fmt: skip
        if getattr(p, name) <= 0:
            raise UserError(f"parameter '{name}' must be > 0")
    nr = p.neuron
    for name in ("C_m_pF", "tau_m_ms", "tau_syn_ms"):
        if getattr(nr, name) <= 0:
            raise UserError(f"parameter 'neuron.{name}' must be > 0")
    if nr.t_ref_ms < 0:
        raise UserError("parameter 'neuron.t_ref_ms' must be >= 0")
    th = p.thalamus
    if th.n_neurons < 0 or th.rate_hz < 0 or th.duration_ms < 0:
        raise UserError("parameters 'thalamus.n_neurons', 'rate_hz', 'duration_ms' must be >= 0")


def _coerce(value, hint, key: str):
    """Convert a YAML value to the dataclass field's type or raise a one-line UserError."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        raise AssertionError  # handled by the caller
    try:
        if hint is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if hint in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            if not math.isfinite(float(value)):
                raise UserError(f"config key '{key}': {value!r} is not a finite number")
            if hint is int and float(value) != int(value):
                raise TypeError
            return hint(value)
        if hint is str:
            if not isinstance(value, str):
                raise TypeError
            return value
        if origin is tuple:
            args = typing.get_args(hint)
            if not isinstance(value, (list, tuple)):
                raise TypeError
            inner = args[0]
            return tuple(_coerce(v, inner, key) for v in value)
    except UserError:  # an element's own message (a UserError is a ValueError)
        raise
    except (TypeError, ValueError):
        pass
    raise UserError(f"config key '{key}': cannot read {value!r} as {_describe(hint)}")


def _describe(hint) -> str:
    if typing.get_origin(hint) is tuple:
        inner = typing.get_args(hint)[0]
        if typing.get_origin(inner) is tuple:
            return "a list of lists of numbers"
        return f"a list of {getattr(inner, '__name__', inner)}"
    return getattr(hint, "__name__", str(hint))


def _apply(obj, overrides: dict, prefix: str = ""):
    if not isinstance(overrides, dict):
        raise UserError(f"config section '{prefix.rstrip('.') or '<top>'}' must be a mapping")
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    changes = {}
    for key, value in overrides.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise UserError(f"unknown config key '{full}'; valid keys here: {', '.join(names)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            changes[key] = _apply(getattr(obj, key), value, prefix=f"{full}.")
        else:
            changes[key] = _coerce(value, hint, full)
    return dataclasses.replace(obj, **changes)


def params_with_overrides(overrides: dict | None, base: Params | None = None) -> Params:
    """Return ``base`` (default: published PD14) with ``overrides`` applied and validated."""
    base = base or Params()
    if not overrides:
        return base
    return _apply(base, overrides)


def load_params(path: str | Path | None) -> Params:
    """Load PD14 parameters with the overrides of a YAML file (``None``: published values).

    Raises
    ------
    UserError
        For a missing or unreadable file, an unknown key, a value of the wrong shape or type,
        or a negative size or rate; the message names the key and the expected form.
    """
    if path is None:
        return Params()
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"config file '{path}' not found; pass an existing YAML file as config",
            "config",
            str(path),
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise UserError(f"config file '{path}' is not valid YAML{where}; fix its syntax") from None
    return params_with_overrides(data)
