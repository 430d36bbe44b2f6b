"""NEST through PyNN: setup, the native fast path and the capacity model."""

import warnings

# PyNN compiles its optional NEST extension module when pyNN.nest is first imported
# (pyNN/nest/simulator.py, build_extensions: cmake with the compiler NEST was built with).
# The PyPI NEST names its build machine's compiler, so on users' machines this fails with a
# 16-line warning on every run; the microcircuit uses no model from that module.
warnings.filterwarnings(
    "ignore",
    message="(Problem running cmake|Unable to (compile|install) NEST extensions|Cannot find nest-config)",
    category=UserWarning,
)

from .setup import choose_threads, setup  # noqa: E402 - after the filter

__all__ = ["choose_threads", "setup"]
