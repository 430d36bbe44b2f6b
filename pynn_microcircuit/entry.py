"""How child processes start this package's command line: ``python -m pynn_microcircuit``.

Sweeps, references and batch-job scripts start runs in child processes. They call the
package as a module (the same entry as the ``pynn-microcircuit`` console script and
``run.py``), with the folder that holds this very package first on ``PYTHONPATH``, so a child
runs the same code as its parent whether or not (or wherever) the package is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The folder holding the ``pynn_microcircuit``, ``platforms`` and ``analysis`` packages.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def command(*args: str) -> list[str]:
    """``[python, -m, pynn_microcircuit, *args]`` with this interpreter."""
    return [sys.executable, "-m", "pynn_microcircuit", *args]


def environment(base: dict | None = None) -> dict:
    """``base`` (default ``os.environ``) with :data:`SOURCE_ROOT` first on ``PYTHONPATH``."""
    env = dict(os.environ if base is None else base)
    rest = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(SOURCE_ROOT) + (os.pathsep + rest if rest else "")
    return env


def shell_command(*args: str) -> str:
    """The same as one shell line, for job scripts."""
    import shlex

    cmd = " ".join(shlex.quote(a) for a in command(*args))
    return f"PYTHONPATH={shlex.quote(str(SOURCE_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}} {cmd}"
