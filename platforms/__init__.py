"""Per-backend setup, capacity models and job scripts.

Importing this package registers the built-in platforms (:mod:`pynn_microcircuit.platform`);
their registration modules import no simulator.
"""

from .nest import platform as _nest  # noqa: F401 - registers "nest"
from .neuron import platform as _neuron  # noqa: F401 - registers "neuron"
from .spinnaker import platform as _spinnaker  # noqa: F401 - registers "spinnaker"
