"""The command line: one module per command family (``main``: run, plan, analyse, compare,
export, import; ``study``: reference, sweep; ``spinnaker``: SpiNNaker runs and EBRAINS jobs;
``jobs``: batch submission) and the shared parser (``args``). The core package never imports
it; ``run.py``, ``python -m pynn_microcircuit`` and the ``pynn-microcircuit`` script call
:func:`main`."""

from .main import main

__all__ = ["main"]
