"""Importing ``pyNN.neuron`` with its NMODL mechanisms compiled.

PyNN 0.13 ships the NMODL sources of its cell and synapse mechanisms
(``pyNN/neuron/nmodl/*.mod``) and compiles them the first time ``pyNN.neuron`` is imported:
``pyNN/neuron/simulator.py`` tries ``load_mechanisms(nmodl)`` and, when that raises, runs
``nrnivmodl`` there (``build_extensions``); a failed compile is only a warning, and the next
``load_mechanisms`` then raises ``OSError: NEURON mechanisms not found``. ``nrnivmodl`` (from the
``neuron`` wheel) needs a C compiler. We check both first and say which is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from pynn_microcircuit.errors import UserError

log = logging.getLogger(__name__)

#: The folder nrnivmodl writes its compiled library into (``x86_64``, ``arm64``, ...).
_MACHINE = os.uname().machine


def mechanisms_dir() -> Path:
    """``pyNN/neuron/nmodl``, where PyNN keeps (and compiles) its NMODL mechanisms."""
    spec = importlib.util.find_spec("pyNN")
    if spec is None or spec.origin is None:
        raise UserError("PyNN is not installed: pip install -e '.[neuron]'")
    return Path(spec.origin).parent / "neuron" / "nmodl"


def compiled(nmodl: Path | None = None) -> bool:
    """Whether PyNN's mechanisms are compiled for this machine (NEURON's own test:
    ``<nmodl>/<machine>/.libs/libnrnmech.so``, or ``libnrnmech.so`` in the machine folder)."""
    d = (nmodl or mechanisms_dir()) / _MACHINE
    return (d / ".libs" / "libnrnmech.so").is_file() or (d / "libnrnmech.so").is_file()


def import_pynn_neuron():
    """``pyNN.neuron``, its mechanisms compiled first (once, by PyNN) if they are not.

    Raises
    ------
    UserError
        NEURON is not installed, ``nrnivmodl`` or a C compiler is missing, or the compile
        failed: one line naming what is missing and how to get it.
    """
    if importlib.util.find_spec("neuron") is None:
        raise UserError(
            "NEURON is not installed: pip install -e '.[neuron]' (or pip install neuron)"
        )
    if not compiled():
        if shutil.which("nrnivmodl") is None:
            raise UserError(
                "nrnivmodl (NEURON's mechanism compiler) is not on PATH: activate the "
                "environment NEURON was installed into, or pip install neuron"
            )
        cc = os.environ.get("CC") or "cc"
        if shutil.which(cc) is None and shutil.which("gcc") is None:
            raise UserError(
                "no C compiler found (NEURON compiles PyNN's NMODL mechanisms with one): "
                "install one, e.g. apt install gcc, or set CC"
            )
        log.info("compiling PyNN's NEURON mechanisms once (nrnivmodl in %s)", mechanisms_dir())
    from pynn_microcircuit.platforms.mpi import launched_size

    if launched_size() > 1:
        # NEURON's wheel initialises MPI for its ParallelContext only when mpi4py has
        # initialised it first (or NEURON_INIT_MPI is set); otherwise every rank would run
        # the whole network alone
        try:
            from mpi4py import MPI  # noqa: F401
        except ImportError:
            raise UserError(
                "NEURON under mpirun needs mpi4py: pip install mpi4py (built against the MPI "
                "that mpirun belongs to)"
            ) from None
    try:
        import pyNN.neuron as sim
    except OSError as exc:  # load_mechanisms after a failed compile
        raise UserError(
            f"PyNN's NEURON mechanisms did not compile ({exc}); run nrnivmodl in "
            f"{mechanisms_dir()} to see the compiler's errors"
        ) from None
    return sim
