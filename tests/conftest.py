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
        item.add_marker(pytest.mark.unit if name in UNIT_MODULES else pytest.mark.integration)
