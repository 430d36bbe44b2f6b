"""Run directories: ``spikes.h5`` (SONATA spike layout) and ``run.json``.

A run directory is never overwritten: :func:`new_run_dir` refuses an existing path, and
without an explicit path it picks a fresh name under ``runs/``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform as _platform
from pathlib import Path

import numpy as np

from .errors import UserError
from .jsonio import write_json_atomic  # noqa: F401 - re-exported: run directories' other files
from .runrecord import (  # noqa: F401 - re-exported
    INCOMPLETE_FILE,
    RUN_FILE,
    RunRecord,
    _mark_started,
    finished,
    incomplete_reason,
    mark_incomplete,
)

#: Where prepared jobs (SpiNNaker, SLURM) are written, relative to the working directory.
JOBS_ROOT = Path("jobs")

SPIKES_FILE = "spikes.h5"


def check_new_dir(out: str | Path) -> None:
    """One-line error unless ``out`` can be created as a new directory: it must not exist,
    and its nearest existing parent must be a writable directory."""
    path = Path(out)
    if path.exists():
        raise UserError(
            f"output directory '{path}' already exists; runs are never overwritten - "
            "choose a new out or omit it for a fresh name",
            "out",
            str(path),
        )
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(
            f"cannot create output directory '{path}': '{parent}' is not a writable "
            "directory; choose another out",
            "out",
            str(path),
        )


def new_run_dir(out: str | Path | None, stem: str, root: str | Path = "runs") -> Path:
    """Create and return a new, empty run directory.

    Parameters
    ----------
    out : path, optional
        Exact directory to create; it must not exist (an existing one is never reused).
    stem : str
        Name stem used when ``out`` is None: ``root/<date>_<time>_<stem>[_N]``.
    """
    if out is not None:
        path = Path(out)
        check_new_dir(path)
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise UserError(f"cannot create output directory '{path}': {exc.strerror}") from None
        return _mark_started(path)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{_dt.datetime.now():%Y%m%d_%H%M%S}_{stem}"
    for k in range(1000):
        path = root / (base if k == 0 else f"{base}_{k}")
        try:
            path.mkdir()
            return _mark_started(path)
        except FileExistsError:
            continue
    raise UserError(f"could not find a free run directory name under '{root}'")


def write_spikes(path: str | Path, spikes: dict, n_neurons: dict) -> None:
    """Write spikes in the SONATA layout: ``/spikes/<pop>/node_ids`` and ``timestamps`` (ms).

    ``spikes`` maps population name to (node ids within the population, times in ms), sorted
    by time. Each population group carries ``sorting = "by_time"`` and ``n_neurons``.
    """
    import h5py

    tmp = Path(str(path) + ".part")
    try:
        with h5py.File(tmp, "w") as f:
            root = f.create_group("spikes")
            for name, (ids, times) in spikes.items():
                g = root.create_group(name)
                g.attrs["sorting"] = "by_time"
                g.attrs["n_neurons"] = int(n_neurons[name])
                g.create_dataset("node_ids", data=np.asarray(ids, dtype=np.uint64))
                ts = g.create_dataset("timestamps", data=np.asarray(times, dtype=np.float64))
                ts.attrs["units"] = "ms"
        os.replace(tmp, path)
    except OSError as exc:  # e.g. the disk filled: no partial file stays behind
        tmp.unlink(missing_ok=True)
        import shutil

        free = shutil.disk_usage(Path(path).parent).free
        raise UserError(
            f"could not write '{path}' ({exc.strerror or exc}; {free / 2**20:.1f} MiB free): "
            "free space and run again"
        ) from None


def read_nest_spike_files(files) -> tuple[np.ndarray, np.ndarray]:
    """Senders (NEST node ids) and times (ms) in the files of NEST's ASCII recording backend
    (NEST 3.x ``RecordingBackendASCII``: ``#`` lines, a header ``sender<TAB>time_ms``, then one
    spike per line; lines that start with a letter are headers), concatenated in file order.
    NumPy's C parser. Used for this package's own NEST runs and for imported ones
    (:func:`pynn_microcircuit.analysis.importers.import_inm6`).

    Raises
    ------
    UserError
        A file holds a line that is not ``sender time_ms``.
    """
    import warnings

    parts = [np.empty((0, 2))]
    for path in files:
        with open(path, encoding="utf-8") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a file without spikes: "no data"
            lines = (ln for ln in fh if not ln.lstrip()[:1].isalpha())
            try:
                rows = np.loadtxt(lines, comments="#", usecols=(0, 1), ndmin=2, dtype=float)
            except (ValueError, IndexError):
                raise UserError(
                    f"'{path}' has a line that is not 'sender time_ms'; it is not a spike file "
                    "of NEST's ASCII recording backend"
                ) from None
        parts.append(rows.reshape(-1, 2))
    data = np.concatenate(parts)
    return data[:, 0].astype(np.int64), data[:, 1]


def versions() -> dict:
    """Versions of Python and the packages that shape a run."""
    from importlib import metadata

    from . import __version__

    out = {"python": _platform.python_version(), "pynn_microcircuit": __version__}
    for dist, key in (
        ("nest-simulator", "nest"),
        ("pyNN", "pyNN"),
        ("numpy", "numpy"),
        ("neo", "neo"),
        ("elephant", "elephant"),
        ("sPyNNaker", "sPyNNaker"),
    ):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def read_run_json(run_dir: str | Path) -> dict:
    """``run_dir``'s run.json as a flat dict, checked by :meth:`RunRecord.read`."""
    return RunRecord.read(run_dir).to_dict()
