"""``python -m pynn_microcircuit ...``: the same command line as ``python run.py ...``."""

import sys

from .cli import main

sys.exit(main())
