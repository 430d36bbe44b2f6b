"""Every private PyNN internal the NEST fast path (:mod:`pynn_microcircuit.platforms.nest.fastpath`) uses, in
one place, for the versions it was written for: PyNN 0.13.x and NEST 3.10.x (checked at
import; another version stops with one line naming it).

* ``pyNN.nest.populations._build_params`` (pyNN/nest/populations.py): translates a PyNN
  cell type's parameters to the NEST model's names and units; the fast population creates
  its nodes with them in one ``nest.Create`` instead of PyNN's per-node path.
* ``pyNN.nest.Projection.__init__`` is skipped (it connects through PyNN's per-connection
  machinery); :func:`init_native_projection` sets the attributes the rest of
  ``pyNN.nest.Projection`` reads: ``nest_synapse_label``, ``_sources``, ``_connections``,
  ``_common_synapse_properties``, ``_common_synapse_property_names``
  (pyNN/nest/projections.py, 0.13.0).
* ``pyNN.recording.Recorder.__init__`` is skipped by the fast path's recorder
  (:class:`~pynn_microcircuit.platforms.nest.fastpath.LazyRecorder`), which sets the
  attributes it would set (``file``, ``population``, ``recorded``, ``cache``,
  ``clear_flag``, ``_recording_start_time``, ``sampling_interval``, ``record_times``;
  pyNN/recording/__init__.py, 0.13.0) and registers itself in ``state.recorders``.

PyNN is imported here without the optional ``csa`` package and with neo, scipy.sparse and
NumPy's lazy submodules deferred to their first use (:func:`import_pynn_nest`).
"""

from __future__ import annotations

from pynn_microcircuit.platforms.compat_check import require

from .lean_import import import_pynn_nest

PYNN_VERSION = require("PyNN", "0.13", "the NEST fast path", module="pyNN")
NEST_VERSION = require("nest-simulator", "3.10", "the NEST fast path", module="nest")


import_pynn_nest()

from pyNN.nest.populations import _build_params as build_nest_params  # noqa: E402

__all__ = ["build_nest_params", "import_pynn_nest", "init_native_projection"]


def init_native_projection(projection) -> None:
    """The private state ``pyNN.nest.Projection.__init__`` would have set, for a projection
    whose connections NEST draws natively."""
    projection.nest_synapse_label = None
    projection._sources = set()
    projection._connections = None
    projection._common_synapse_properties = {}
    projection._common_synapse_property_names = None
