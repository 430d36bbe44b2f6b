"""Read run directories (``spikes.h5`` + ``run.json``) into flat arrays and, on demand, Neo.

Nothing here writes into a run directory, and nothing is unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.rundir import RUN_JSON_VERSION, SPIKES_FILE, read_run_json


@dataclass
class PopulationSpikes:
    """Spikes of one population: node ids (0-based) and times (ms), sorted by time."""

    name: str
    n_neurons: int
    n_recorded: int
    ids: np.ndarray
    times: np.ndarray


@dataclass
class Run:
    """A run directory read back: metadata and per-population spikes in ``[t_start, t_stop)``."""

    path: Path
    meta: dict
    t_start_ms: float
    t_stop_ms: float
    populations: dict

    @property
    def duration_s(self) -> float:
        return (self.t_stop_ms - self.t_start_ms) * 1e-3


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory written by this package (any platform).

    Raises
    ------
    UserError
        Not a run directory, a run.json of another format version, a missing, truncated or
        inconsistent spikes.h5.
    """
    import h5py

    run_dir = Path(run_dir)
    meta = read_run_json(run_dir)
    version = meta.get("format_version")
    if version != RUN_JSON_VERSION:
        raise UserError(
            f"'{run_dir}/run.json' has format_version {version!r}, this version reads "
            f"{RUN_JSON_VERSION}; rerun it or use the matching pynn-microcircuit"
        )
    if meta.get("simulated") is False:
        raise UserError(f"'{run_dir}' was mapped but not simulated: it has no spikes to analyse")
    path = run_dir / SPIKES_FILE
    if not path.is_file():
        raise UserError(f"'{path}' is missing; the run did not finish - rerun it")
    t0 = float(meta["t_presim_ms"])
    t1 = t0 + float(meta["t_sim_ms"])
    pops = {}
    try:
        with h5py.File(path, "r") as f:
            for name, info in meta["populations"].items():
                if f"spikes/{name}" not in f:
                    raise UserError(f"'{path}' has no population '{name}'; the file is incomplete")
                g = f[f"spikes/{name}"]
                ids = np.asarray(g["node_ids"][:], dtype=np.int64)
                times = np.asarray(g["timestamps"][:], dtype=float)
                if ids.shape != times.shape:
                    raise UserError(
                        f"'{path}': node_ids and timestamps of '{name}' differ in "
                        "length; the file is corrupt"
                    )
                n = int(info["n_neurons"])
                if ids.size and (ids.min() < 0 or ids.max() >= n):
                    raise UserError(
                        f"'{path}': node ids of '{name}' outside 0..{n - 1}; the "
                        "file does not belong to this run.json"
                    )
                keep = (times >= t0) & (times < t1)
                pops[name] = PopulationSpikes(
                    name, n, int(info.get("n_recorded", n)), ids[keep], times[keep]
                )
    except OSError as exc:
        raise UserError(
            f"cannot read '{path}' ({exc.__class__.__name__}): truncated or not "
            "HDF5 - rerun the simulation"
        ) from None
    except KeyError as exc:
        raise UserError(f"'{path}' lacks {exc}; not a SONATA spike file of this package") from None
    return Run(run_dir, meta, t0, t1, pops)


def to_neo_segment(run: Run, population: str, node_ids=None):
    """A ``neo.Segment`` with one ``SpikeTrain`` per requested neuron of ``population``.

    Build Neo objects only for the subsets that need them (77k trains take about a minute).
    Each train is annotated with ``population`` and ``node_id``.
    """
    import neo

    from .statistics import spike_trains

    pop = run.populations[population]
    if node_ids is None:
        node_ids = np.arange(pop.n_recorded)
    node_ids = np.asarray(node_ids, dtype=np.int64)
    seg = neo.Segment(name=population)
    for nid, st in zip(
        node_ids, spike_trains(pop.ids, pop.times, node_ids, run.t_start_ms, run.t_stop_ms)
    ):
        st.annotate(population=population, node_id=int(nid))
        seg.spiketrains.append(st)
    return seg


def to_neo_block(run: Run, max_per_population: int | None = None):
    """A ``neo.Block`` with one segment per population (optionally the first neurons only)."""
    import neo

    block = neo.Block(
        name=str(run.path), **{k: run.meta[k] for k in ("platform", "seed") if k in run.meta}
    )
    for name, pop in run.populations.items():
        n = (
            pop.n_recorded
            if max_per_population is None
            else min(pop.n_recorded, max_per_population)
        )
        block.segments.append(to_neo_segment(run, name, np.arange(n)))
    return block
