"""Version checks of the simulator packages whose private internals a compatibility module
uses (:mod:`pynn_microcircuit.platforms.nest.compat`, :mod:`pynn_microcircuit.platforms.spinnaker.compat`)."""

from __future__ import annotations

from importlib import import_module

from pynn_microcircuit.errors import UserError


def installed_version(distribution: str, module: str | None = None) -> str | None:
    """Version of ``distribution``, None if it is not installed. With ``module`` (the
    package's import name) its ``__version__`` is read instead of the distribution's
    metadata: ``importlib.metadata`` costs 1.5 MB of resident memory (it loads ``email``,
    ``csv``, ``zipfile``; measured after ``import nest``), which the NEST path would hold
    through its whole run, while ``import pyNN`` and ``import nest`` cost nothing more there
    (``pyNN/__init__.py`` imports nothing; every NEST run imports ``nest``)."""
    if module is not None:
        try:
            version = getattr(import_module(module), "__version__", None)
        except ImportError:
            return None
        if isinstance(version, str):
            return version
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def require(distribution: str, prefix: str, what: str, module: str | None = None) -> str:
    """The installed version of ``distribution`` (:func:`installed_version`); a one-line
    :class:`UserError` unless it starts with ``prefix`` (the version the compatibility module
    was written for)."""
    version = installed_version(distribution, module)
    if version is None:
        raise UserError(
            f"{distribution} is not installed; {what} needs {distribution} {prefix}.x "
            "(pip install -e '.[spinnaker]' or -e . from the repository)"
        )
    if not version.startswith(prefix):
        raise UserError(
            f"{what} was written for {distribution} {prefix}.x and uses its internals, "
            f"found {version}; install the pinned version (pip install -e .)"
        )
    return version
