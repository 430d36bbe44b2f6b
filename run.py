#!/usr/bin/env python
"""Run the PD14 microcircuit: ``python run.py --help``."""

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore", category=UserWarning, module="nest")

from pynn_microcircuit.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
