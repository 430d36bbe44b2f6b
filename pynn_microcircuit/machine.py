"""The machine a run is about to use: how much memory it has, and whether a run fits.

``PYNN_MICROCIRCUIT_MACHINE_MEMORY`` (e.g. ``4GiB``) stands in for the physical memory, so
the check can be tested (or made stricter on a shared machine) without a smaller machine.
"""

from __future__ import annotations

import os

from .errors import UserError

#: Share of the physical memory a single run may plan to use (the rest: OS, other work).
USABLE_FRACTION = 0.9
ENV_MEMORY = "PYNN_MICROCIRCUIT_MACHINE_MEMORY"


def memory_bytes() -> int:
    """Physical memory of this machine (bytes), or the stand-in from the environment."""
    text = os.environ.get(ENV_MEMORY)
    if text:
        from .budget import parse_memory

        return parse_memory(text)
    import psutil

    return int(psutil.virtual_memory().total)


def _need_and_have(
    predicted_memory: float, machine_memory: float | None = None, margin: float | None = None
) -> tuple[float, float]:
    """(need, have) in bytes: ``predicted_memory`` with a safety margin (``margin``, a
    fraction; default the planner's memory margin), and :data:`USABLE_FRACTION` of the
    machine's memory (``machine_memory``, bytes; default this machine's,
    :func:`memory_bytes`)."""
    from .budget import MARGINS

    if machine_memory is None:
        machine_memory = memory_bytes()
    margin = MARGINS["memory"] if margin is None else margin
    return predicted_memory * (1 + margin), USABLE_FRACTION * machine_memory


def fits_memory(
    predicted_memory: float, machine_memory: float | None = None, margin: float | None = None
) -> bool:
    """Whether a run predicted to need ``predicted_memory`` bytes fits the machine: with a
    safety margin (``margin``; default the planner's), within :data:`USABLE_FRACTION` of its
    memory (``machine_memory``, bytes; default this machine's)."""
    need, have = _need_and_have(predicted_memory, machine_memory, margin)
    return need <= have


class RunsHere:
    """For a :class:`~pynn_microcircuit.platform.Platform` that runs on this machine (first
    in its bases): ``check_fits`` compares the capacity model's predicted memory with this
    machine's (:func:`check_fits`)."""

    def check_fits(self, spec, params, options) -> None:
        capacity = self.capacity(options)
        check_fits(spec, capacity(spec, {}), capacity, params, self.name)


def check_fits(spec, predicted: dict, capacity, params, platform: str) -> None:
    """Stop before building when ``spec`` is predicted (``predicted``: its ``capacity(spec,
    {})``) to need more memory than this machine offers: one line with the need, what there
    is, and the largest model that fits on ``platform`` (planned with ``capacity``). The
    capacity model's own margin applies where it states one
    (:func:`pynn_microcircuit.budget.margins_of`)."""
    from .budget import format_bytes, margins_of, plan

    margin = margins_of(predicted)["memory"]
    need, have = _need_and_have(predicted["memory"], margin=margin)
    if need <= have:
        return
    try:
        best = plan(platform, {"memory": int(have)}, capacity, params)
        fits = (
            f"the largest model that fits is n = {best.n_scale:g}, k = {best.k_scale:g} "
            f"({best.method}; budget memory={format_bytes(have).replace(' ', '')})"
        )
    except UserError:
        fits = "no model fits it"
    raise UserError(
        f"n={spec.n_scale:g}, k={spec.k_scale:g} needs ~{format_bytes(need)} of memory, this "
        f"machine has {format_bytes(have)} for a run; {fits}, or pass force=True to try anyway"
    )
