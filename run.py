#!/usr/bin/env python
"""Run the PD14 microcircuit: ``python run.py --help``."""

import sys
import warnings

warnings.filterwarnings("ignore", category=UserWarning, module="nest")

try:
    from pynn_microcircuit.cli import main
except ModuleNotFoundError as exc:  # a checkout that was never installed
    if not (exc.name or "").startswith("pynn_microcircuit"):
        raise
    sys.exit(f"error: {exc.name} is not importable: install the package first (pip install -e .)")

if __name__ == "__main__":
    sys.exit(main())
