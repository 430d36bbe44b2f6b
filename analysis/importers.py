"""Run directories from other PD14 implementations' output, so ``compare`` can use them.

INM-6's PD14 example for NEST (``pynest/examples/Potjans_2014`` in NEST's source, also
packaged as ``microcircuit``) writes into its ``data_path``:

* ``population_nodeids.dat`` -- one line ``first last`` (NEST global ids) per population, in
  the order L2/3E, L2/3I, L4E, L4I, L5E, L5I, L6E, L6I (``network.py``,
  ``__create_neuronal_populations``);
* ``spike_recorder-<device id>-<virtual process>.dat`` -- NEST's ASCII recording backend:
  ``#`` comment lines, a header ``sender time_ms``, then one spike per line (sender's global
  id, time in ms).

:func:`import_inm6` turns such a folder into a run directory of this package (``spikes.h5``
with 0-based node ids per population, ``run.json``); nothing in the source folder changes.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.params import Params
from pynn_microcircuit.rundir import new_run_dir, read_nest_spike_files, write_spikes
from pynn_microcircuit.runrecord import RunRecord


def import_inm6(
    source: str | Path,
    out: str | Path | None,
    t_presim_ms: float,
    t_sim_ms: float,
    k_scale: float | None = None,
    resolution_ms: float = 0.1,
) -> Path:
    """Import an INM-6 PD14 output folder as a new run directory; returns it.

    Parameters
    ----------
    source : path
        The folder with ``population_nodeids.dat`` and ``spike_recorder-*.dat``.
    out : path, optional
        New run directory (must not exist); default ``runs/<date>_inm6_n<n>``.
    t_presim_ms, t_sim_ms : float
        The run's warm-up and analysed time (ms): spikes before the warm-up are dropped.
    k_scale : float, optional
        The in-degree scaling used (default: the neuron-number scaling, the package's
        ``K_scaling = N_scaling`` default).
    resolution_ms : float
        Simulation time step of the source run (ms).
    """
    source = Path(source)
    ids_file = source / "population_nodeids.dat"
    files = sorted(glob.glob(os.path.join(source, "spike_recorder-*.dat")))
    if not ids_file.is_file() or not files:
        raise UserError(
            f"'{source}' is not an INM-6 PD14 output folder (needs population_nodeids.dat and "
            "spike_recorder-*.dat)"
        )
    p = Params()
    try:
        bounds = np.loadtxt(ids_file, dtype=np.int64, ndmin=2)
    except ValueError:
        raise UserError(f"'{ids_file}' is not lines of 'first last' node ids") from None
    if bounds.shape != (len(p.populations), 2) or np.any(bounds[:, 1] < bounds[:, 0]):
        raise UserError(f"'{ids_file}' must have {len(p.populations)} lines 'first last'")
    sizes = bounds[:, 1] - bounds[:, 0] + 1
    n_scale = float(np.median(sizes / np.asarray(p.n_full)))
    senders, times = read_nest_spike_files(files)
    t_end = t_presim_ms + t_sim_ms
    keep = (times >= t_presim_ms) & (times < t_end)
    senders, times = senders[keep], times[keep]
    out_spikes, pops = {}, {}
    for i, name in enumerate(p.populations):
        sel = (senders >= bounds[i, 0]) & (senders <= bounds[i, 1])
        ids = senders[sel] - bounds[i, 0]
        t = times[sel]
        order = np.lexsort((ids, t))
        out_spikes[name] = (ids[order], t[order])
        pops[name] = {
            "n_neurons": int(sizes[i]),
            "n_recorded": int(sizes[i]),
            "mean_rate_hz": float(ids.size / sizes[i] / (t_sim_ms * 1e-3)),
            "n_spikes": int(ids.size),
        }
    k = float(k_scale if k_scale is not None else n_scale)
    run_dir = new_run_dir(out, f"inm6_n{n_scale:.3g}")
    write_spikes(
        run_dir / "spikes.h5", out_spikes, {n: int(s) for n, s in zip(p.populations, sizes)}
    )
    RunRecord(
        platform="nest (INM-6 PD14 example, imported)",
        simulated=True,
        n_scale=n_scale,
        k_scale=k,
        method="n" if k == 1.0 else "sqrt-k",
        resolution_ms=resolution_ms,
        t_presim_ms=t_presim_ms,
        t_sim_ms=t_sim_ms,
        populations=pops,
        details={"source": str(source.resolve())},
    ).write(run_dir)
    return run_dir
