"""The seam between the model and the simulators: a :class:`Platform` and its registry.

A platform says which budget keys it takes, gives a capacity model (what a
:class:`~pynn_microcircuit.scaling.ModelSpec` needs of it), runs a request into a run
directory, and names the run options only it takes. The command line and the planner ask
the registry (:func:`get_platform`, :func:`platform_names`) and never compare platform names.

The built-in platforms (``nest``, ``spinnaker``, ``neuron``) register themselves when
:mod:`pynn_microcircuit.platforms` is imported; another package adds one with
:func:`register` or through the entry-point group ``pynn_microcircuit.platforms`` (each entry
a :class:`Platform` instance), read the first time a name is not found.

This module is pure: no simulator is imported here or by a platform's registration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UserError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .params import Params
    from .runner import RunOptions
    from .scaling import ModelSpec

log = logging.getLogger(__name__)

#: A capacity model: ``(spec, budget) -> resources`` (same keys as the budget, SI units;
#: :data:`pynn_microcircuit.budget.SETTINGS` holds the platform settings it assumed).
CapacityModel = Callable[["ModelSpec", dict], dict]

ENTRY_POINT_GROUP = "pynn_microcircuit.platforms"


@dataclass(frozen=True)
class CapacityOptions:
    """What a capacity model needs besides the model: run times (ms), threads (None: the
    platform's default), the recorded fraction, NEST's synapse storage and whether the run
    is analysed afterwards (the analysis adds memory)."""

    t_presim_ms: float
    t_sim_ms: float
    threads: int | None = None
    record_fraction: float = 1.0
    synapses: str = "auto"
    analysis: bool = True


@dataclass(frozen=True)
class RunRequest:
    """One run: the parameters and model, how to run it, where to write it.

    ``settings`` holds the platform's own options (those named in :attr:`Platform.options`,
    by their command-line destination, e.g. ``{"neurons_per_core": 64}``); ``extra`` is
    written into ``run.json`` as given; ``progress(t_done_ms, t_total_ms, wall_s)`` is
    called during the simulation.
    """

    params: Params
    spec: ModelSpec
    options: RunOptions
    out: str | Path | None = None
    plan: dict | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    progress: Callable[[float, float, float], None] | None = None
    extra: dict = field(default_factory=dict)


class Platform:
    """A simulator the model runs on. Subclass it, set the class attributes, override
    :meth:`capacity` and :meth:`run`, and :func:`register` an instance.

    Attributes
    ----------
    name : str
        What ``--platform`` takes.
    summary : str
        One line for ``--help``.
    budget_keys : tuple of str
        Keys of :mod:`pynn_microcircuit.budget` this platform's budgets take.
    options : tuple of str
        Run options (command-line destinations) only platforms naming them take; given to
        another platform they are refused.
    batch_jobs : bool
        Whether a run can go into a SLURM batch job (``submit --scheduler slurm``).
    command : str or None
        ``"module:function"`` of a command-line front end that replaces the generic run
        (called as ``function(args, argv, params, spec, plan)``, returns an exit code);
        None: the command line calls :meth:`run`.
    """

    name: str = ""
    summary: str = ""
    budget_keys: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    batch_jobs: bool = False
    command: str | None = None

    def capacity(self, options: CapacityOptions) -> CapacityModel:
        """The capacity model for runs with these options."""
        raise NotImplementedError(f"platform '{self.name}' has no capacity model")

    def run(self, request: RunRequest) -> Path | None:
        """Run ``request``; the run directory (None in a process that does not report, e.g.
        an MPI rank other than 0)."""
        raise NotImplementedError(f"platform '{self.name}' cannot run a model")

    def check_fits(self, spec: ModelSpec, params: Params, options: CapacityOptions) -> None:
        """Refuse (:class:`~pynn_microcircuit.errors.UserError`) a model this machine cannot
        hold; the default checks nothing (a board, a remote machine). A platform that runs
        here takes :class:`pynn_microcircuit.machine.RunsHere` first."""

    def run_flags(self, settings: Mapping[str, Any]) -> str:
        """Command-line options that reproduce a plan's platform ``settings``."""
        return ""

    def plan_notes(self, plan_dict: dict, params: Params) -> list[str]:
        """Extra lines for ``plan`` (may add entries to ``plan_dict``)."""
        return []

    def __repr__(self) -> str:
        return f"<Platform {self.name}>"


_REGISTRY: dict[str, Platform] = {}
_entry_points_read = False


def register(platform: Platform, replace: bool = False) -> Platform:
    """Add ``platform`` to the registry (``replace``: over one of the same name)."""
    if not platform.name or not platform.name.replace("-", "").isalnum():
        raise UserError(f"platform name {platform.name!r} must be a non-empty word")
    old = _REGISTRY.get(platform.name)
    if old is not None and not replace and type(old) is not type(platform):
        raise UserError(f"platform '{platform.name}' is already registered ({old!r})")
    _REGISTRY[platform.name] = platform
    return platform


def unregister(name: str) -> None:
    """Remove a platform (tests register toy ones)."""
    _REGISTRY.pop(name, None)


def _read_entry_points() -> None:
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            platform = ep.load()
        except Exception as exc:  # a broken third-party platform must not stop the others
            log.warning("platform entry point %s could not be loaded: %s", ep.value, exc)
            continue
        register(platform)


def platform_names() -> list[str]:
    """Names of the registered platforms (entry points included)."""
    _read_entry_points()
    return sorted(_REGISTRY)


def get_platform(name: str) -> Platform:
    """The registered platform called ``name``; a one-line error naming the known ones."""
    if name not in _REGISTRY:
        _read_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UserError(f"unknown platform '{name}'; known platforms: {known}") from None


def platforms_taking(option: str) -> list[str]:
    """Names of the platforms whose :attr:`Platform.options` include ``option``."""
    _read_entry_points()
    return sorted(n for n, p in _REGISTRY.items() if option in p.options)


def budget_key_owners(key: str) -> list[str]:
    """Names of the platforms whose budgets take ``key``."""
    _read_entry_points()
    return sorted(n for n, p in _REGISTRY.items() if key in p.budget_keys)
