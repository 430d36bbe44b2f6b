"""Read run directories (``spikes.h5`` + ``run.json``) into flat arrays and, on demand, Neo.

Nothing here writes into a run directory, and nothing is unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pynn_microcircuit.errors import UserError
from pynn_microcircuit.rundir import SPIKES_FILE, read_run_json


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
    meta = read_run_json(run_dir)  # checked: format version, common fields
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


def _trains(run: Run, population: str, node_ids) -> list:
    from .statistics import spike_trains

    pop = run.populations[population]
    node_ids = np.asarray(node_ids, dtype=np.int64)
    trains = spike_trains(pop.ids, pop.times, node_ids, run.t_start_ms, run.t_stop_ms)
    for nid, st in zip(node_ids, trains):
        st.name = f"{population}-{int(nid)}"
        st.annotate(population=population, node_id=int(nid))
    return trains


def to_neo_segment(run: Run, population: str, node_ids=None):
    """A ``neo.Segment`` with one ``SpikeTrain`` per requested neuron of ``population``.

    Build Neo objects only for the subsets that need them (77k trains take about a minute).
    Each train is annotated with ``population`` and ``node_id``.
    """
    import neo

    if node_ids is None:
        node_ids = np.arange(run.populations[population].n_recorded)
    seg = neo.Segment(name=population)
    seg.spiketrains.extend(_trains(run, population, node_ids))
    return seg


def to_neo_block(run: Run, max_per_population: int | None = None, populations=None):
    """A ``neo.Block`` as PyNN's ``get_data()`` shapes it: one ``Segment`` (the analysed
    window) holding every train, and one ``Group`` per population pointing at its trains.

    Parameters
    ----------
    run : Run
    max_per_population : int, optional
        Keep only the first neurons of each population (Neo objects cost ~1 ms per train).
    populations : list of str, optional
        Populations to include (default: all).
    """
    import neo

    names = list(run.populations) if populations is None else list(populations)
    unknown = [p for p in names if p not in run.populations]
    if unknown:
        raise UserError(
            f"no population {', '.join(unknown)} in '{run.path}'; choose from "
            f"{', '.join(run.populations)}"
        )
    meta = run.meta
    block = neo.Block(
        name=f"pynn-microcircuit run {run.path.name}",
        **{k: meta[k] for k in ("platform", "seed", "n_scale", "k_scale", "method") if k in meta},
    )
    seg = neo.Segment(name="analysed window")
    block.segments.append(seg)
    for name in names:
        pop = run.populations[name]
        n = (
            pop.n_recorded
            if max_per_population is None
            else min(pop.n_recorded, max_per_population)
        )
        trains = _trains(run, name, np.arange(n))
        seg.spiketrains.extend(trains)
        block.groups.append(neo.Group(trains, name=name, n_neurons=pop.n_neurons))
    return block


#: Neo IO classes that write a Block to one file, by the name used on the command line.
EXPORT_FORMATS = {"nix": ("NixIO", ".nix"), "mat": ("NeoMatlabIO", ".mat")}


def export_neo(run: Run, path: str | Path, fmt: str = "nix", **block_kw) -> Path:
    """Write a run (or a subset, see :func:`to_neo_block`) to a Neo file for other tools.

    ``nix`` (NIX/HDF5, needs the ``nixio`` package; read back with ``neo.io.NixIO``) or
    ``mat`` (MATLAB, ``neo.io.NeoMatlabIO``). An existing file is never overwritten.
    """
    import neo

    if fmt not in EXPORT_FORMATS:
        raise UserError(f"unknown export format '{fmt}'; use one of {', '.join(EXPORT_FORMATS)}")
    path = Path(path)
    if path.exists():
        raise UserError(f"'{path}' exists; choose another --out (nothing was overwritten)")
    if not path.parent.is_dir():
        raise UserError(f"folder '{path.parent}' does not exist; create it or choose another --out")
    block = to_neo_block(run, **block_kw)
    io_name, _ = EXPORT_FORMATS[fmt]
    if fmt == "nix":
        try:
            import nixio  # noqa: F401
        except ImportError:
            raise UserError(
                "NIX export needs nixio: pip install nixio (or use --format mat)"
            ) from None
        with neo.io.NixIO(str(path), mode="ow") as nio:
            nio.write_block(block)
    else:
        getattr(neo.io, io_name)(str(path)).write_block(block)
    return path
