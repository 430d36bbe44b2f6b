"""How child processes start this package's command line: ``python -m pynn_microcircuit``.

Sweeps, references and batch-job scripts start runs in child processes. They call the
package as a module with the parent's own interpreter (the same entry as the
``pynn-microcircuit`` console script and ``run.py``), so a child imports the package the
parent imported: the installed one (``pip install -e .`` maps the repository's ``analysis/``
and ``platforms/`` folders to ``pynn_microcircuit.analysis`` and
``pynn_microcircuit.platforms``; a wheel or a job archive holds them inside the package).
"""

from __future__ import annotations

import shlex
import sys


def command(*args: str) -> list[str]:
    """``[python, -m, pynn_microcircuit, *args]`` with this interpreter."""
    return [sys.executable, "-m", "pynn_microcircuit", *args]


def shell_command(*args: str) -> str:
    """The same as one shell line, for job scripts."""
    return " ".join(shlex.quote(a) for a in command(*args))
