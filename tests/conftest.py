import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
warnings.filterwarnings("ignore", category=UserWarning)

#: Test modules that run no simulator, no child process and no service: ``pytest -m unit``
#: gives feedback in seconds. Every other module is ``integration`` (NEST, sPyNNaker, SLURM,
#: MPI, the EBRAINS stand-ins, the command line in child processes, Neo/Elephant analyses).
UNIT_MODULES = {"test_atlas", "test_params", "test_scaling", "test_theory", "test_verdicts",
                "test_quantisation"}  # fmt: skip


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        name = item.module.__name__.rsplit(".", 1)[-1]
        if name in UNIT_MODULES:
            item.add_marker(pytest.mark.unit)
        elif item.get_closest_marker("unit") is None:  # a module's own unit tests stay unit
            item.add_marker(pytest.mark.integration)


def mpi4py_env() -> dict | None:
    """Environment for a child process that needs mpi4py beside this venv's packages (NEURON
    under mpirun): mpi4py from this interpreter, or from ``MPI4PY_TARGET`` (a ``pip install
    --target`` folder, kept out of the test venv so no other test imports MPI); None if
    neither has it."""
    import importlib.util

    if importlib.util.find_spec("mpi4py") is not None:
        return dict(os.environ)
    target = os.environ.get("MPI4PY_TARGET")
    if target and os.path.isdir(os.path.join(target, "mpi4py")):
        path = os.pathsep.join(p for p in (target, os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path}
    return None
