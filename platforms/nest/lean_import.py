"""Import PyNN's NEST backend without the modules a NEST run never uses before its end.

Importing ``pyNN.nest`` after ``nest`` costs 42 MB of resident memory on this project's
install (PyNN 0.13.0, neo 0.14.6, lazyarray 0.7.0, NumPy 2.4, SciPy 1.17; measured with
/proc/self/status), held through the whole simulation; with the deferrals below it costs
2.7 MB. Most of the 42 MB is modules PyNN imports at module level but uses only in calls the
NEST fast path makes after the simulation or never:

* ``csa`` (pyNN/connectors.py, pyNN/nest/connectors.py, for ``CSAConnector``; installed by
  sPyNNaker's requirements): imports matplotlib's pyplot, 15 MB. Blocked while PyNN loads
  (``sys.modules["csa"] = None`` makes ``import csa`` raise ImportError, which PyNN
  catches): only PyNN's ``CSAConnector`` stays unavailable in this process.
* ``neo`` (pyNN/recording/__init__.py, pyNN/standardmodels/base.py, ``from neo.io import
  get_io`` in pyNN/network.py): 12.5 MB. Used by ``get_data``, ``write_data`` and
  current-source recording; PyNN gets stand-ins that import the real module at the first
  attribute read (PEP 562 module ``__getattr__``).
* ``quantities`` (pyNN/recording/__init__.py, pyNN/standardmodels/base.py): 2.2 MB. Used for
  the units of recorded data and of a recorder's start time, which PyNN's
  ``Recorder.__init__`` computes as ``state.t * pq.ms`` for every population; the fast
  path's recorder (:class:`~pynn_microcircuit.platforms.nest.fastpath.LazyRecorder`) keeps
  it in ms until it is read, so nothing touches ``pq`` before the spikes are read.
* ``scipy.sparse`` (lazyarray.py, ``from scipy import sparse``): 9 MB. lazyarray uses it only
  as ``sparse.issparse(value)``; the stand-in answers False while ``scipy.sparse`` has not
  been imported (no sparse matrix can exist before its module is) and asks the real module
  once it has.
* NumPy's lazily loaded submodules (``numpy.f2py``, ``numpy.testing``, ``numpy.fft``,
  ``numpy.polynomial``, ...; NumPy >= 2 loads them at the first attribute read): 11 MB.
  lazyarray builds its ufunc wrappers by reading every name of ``dir(numpy)``
  (lazyarray.py, "build lazy-array compatible versions of NumPy ufuncs") and keeps only the
  ufuncs; while PyNN loads, ``dir(numpy)`` leaves out the submodules not yet imported (which
  are modules, never ufuncs, so lazyarray's namespace is the same).

The stand-ins are in ``sys.modules`` only while PyNN loads, and all of them are removed as
soon as one of them loads its real module (the csa block stays until PyNN is loaded): every other importer gets the real modules,
and PyNN's own references go through the stand-ins to the real module on first use.
Nothing is deferred when PyNN or the module is already loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types

#: Modules PyNN imports at module level and a NEST run uses only after the simulation.
DEFERRED = ("neo", "neo.io", "scipy.sparse", "quantities")


def _issparse(value) -> bool:
    """lazyarray's ``sparse.issparse`` without importing scipy.sparse: no object can be a
    sparse matrix before that module is imported."""
    real = sys.modules.get("scipy.sparse")
    return isinstance(real, types.ModuleType) and not _is_stand_in(real) and real.issparse(value)


def _get_io(*args, **kwargs):
    """pyNN/network.py's ``get_io`` (``neo.io.get_io``), imported when first called."""
    return importlib.import_module("neo.io").get_io(*args, **kwargs)


#: Attributes the stand-ins answer without importing the real module.
LOCAL = {"neo.io": {"get_io": _get_io}, "scipy.sparse": {"issparse": _issparse}}


def _is_stand_in(module) -> bool:
    return getattr(module, "__dict__", {}).get("_stand_in_for") is not None


def _stand_in(name: str, installed: dict) -> types.ModuleType:
    """A module object for ``name`` whose first read of a missing attribute removes every
    stand-in in ``installed`` from ``sys.modules`` and imports the real module."""
    proxy = types.ModuleType(name, f"stand-in for {name} until its first use")
    proxy._stand_in_for = name
    real = []

    def __getattr__(attr: str):
        if attr == "__path__" and not real:  # asked by every from-import: not a package
            raise AttributeError(attr)
        if not real:
            _remove({k: m for k, m in installed.items() if m is not None})  # csa stays blocked
            real.append(importlib.import_module(name))
        return getattr(real[0], attr)

    proxy.__getattr__ = __getattr__
    proxy.__dict__.update(LOCAL.get(name, {}))
    return proxy


def _remove(installed: dict) -> None:
    for name, module in installed.items():
        if sys.modules.get(name, 0) is module:
            del sys.modules[name]


#: The one switch: ``PYNN_MICROCIRCUIT_LEAN_IMPORT=0`` imports PyNN plainly (no stand-ins,
#: ``dir(numpy)`` untouched), e.g. to rule this module out when something looks wrong; the
#: cost is the ~40 MB above, measured by ``benchmarks/nest_vs_pynest.py``.
SWITCH = "PYNN_MICROCIRCUIT_LEAN_IMPORT"


def import_pynn_nest() -> None:
    """Import ``pyNN.nest`` without ``csa`` and with :data:`DEFERRED` deferred (module
    docstring), unless :data:`SWITCH` is ``0``. No-op when ``pyNN.nest`` is loaded."""
    if "pyNN.nest" in sys.modules:
        return
    import os

    if os.environ.get(SWITCH, "1") == "0":
        import pyNN.nest  # noqa: F401

        return
    installed: dict = {}
    if "csa" not in sys.modules:
        installed["csa"] = None
    for name in DEFERRED:
        if name not in sys.modules:
            installed[name] = _stand_in(name, installed)
    if "neo" in sys.modules:  # the real neo owns neo.io
        installed.pop("neo.io", None)
    sys.modules.update(installed)
    try:
        with _numpy_dir_without_unloaded_submodules():
            import pyNN.nest  # noqa: F401
    finally:
        _remove(installed)


@contextlib.contextmanager
def _numpy_dir_without_unloaded_submodules():
    """``dir(numpy)`` without the lazily loaded submodules not imported yet (module
    docstring); NumPy's own ``__dir__`` again on exit. Nothing changes on a NumPy without
    lazy submodules (no ``__numpy_submodules__``)."""
    import numpy

    lazy = set(getattr(numpy, "__numpy_submodules__", ()))
    own = numpy.__dict__.get("__dir__")
    if not lazy or own is None:
        yield
        return

    def __dir__():
        return [n for n in own() if n not in lazy or f"numpy.{n}" in sys.modules]

    numpy.__dir__ = __dir__
    try:
        yield
    finally:
        numpy.__dir__ = own
