"""JSON files written atomically, with NumPy values and paths allowed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def write_json_atomic(path: str | Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` via a ``.part`` file and a rename: readers see the
    old file or the whole new one, never a half-written one (NumPy values allowed)."""
    tmp = Path(str(path) + ".part")
    tmp.write_text(json.dumps(obj, indent=2, default=_default) + "\n")
    os.replace(tmp, path)


def _default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
