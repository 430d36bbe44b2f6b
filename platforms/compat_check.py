"""Version checks of the simulator packages whose private internals a compatibility module
uses (:mod:`pynn_microcircuit.platforms.nest.compat`, :mod:`pynn_microcircuit.platforms.spinnaker.compat`)."""

from __future__ import annotations

import importlib.metadata

from pynn_microcircuit.errors import UserError


def require(distribution: str, prefix: str, what: str) -> str:
    """The installed version of ``distribution``; a one-line :class:`UserError` unless it
    starts with ``prefix`` (the version the compatibility module was written for)."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            f"{distribution} is not installed; {what} needs {distribution} {prefix}.x "
            "(pip install -e '.[spinnaker]' or -e . from the repository)"
        ) from None
    if not version.startswith(prefix):
        raise UserError(
            f"{what} was written for {distribution} {prefix}.x and uses its internals, "
            f"found {version}; install the pinned version (pip install -e .)"
        )
    return version
