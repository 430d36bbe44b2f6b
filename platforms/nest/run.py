"""Run a ModelSpec with NEST through PyNN and write a self-describing run directory."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nest

from pynn_microcircuit import rundir
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.platforms.mpi import Comm, merge_spikes, root_decides
from pynn_microcircuit.runner import (
    RunOptions,
    activity_check,
    build_for_run,
    peak_rss_bytes,
    simulate,
    store_spikes,
)
from pynn_microcircuit.runrecord import RunRecord
from pynn_microcircuit.scaling import ModelSpec

from .capacity import uses_compact
from .fastpath import NestBackend
from .setup import choose_threads, largest_synapse_type, setup, synapse_types

log = logging.getLogger(__name__)

#: Folder inside the run directory for NEST's spike files while the run lasts (removed once
#: they are in spikes.h5).
SPIKE_FILES_DIR = "nest_spikes"


class ChunkedAdvance:
    """The ``advance(ms)`` :func:`chunked_run` yields; ``setup_s`` is the wall time (s) of its
    first call's PyNN ``run`` and ``nest.Prepare``, where NEST sorts every connection by its
    source and builds its spike-delivery tables, so runs can report it apart from the
    stepping. ``announce``: log the preparation (one MPI rank does)."""

    def __init__(self, sim, announce: bool = True):
        self.sim = sim
        self.announce = announce
        self.prepared = False
        self.setup_s = 0.0

    def __call__(self, ms: float) -> None:
        import nest

        if not self.prepared:
            t0 = time.perf_counter()
            if not self.sim.state.running:
                n_conn = nest.GetKernelStatus("num_connections")  # on every rank alike
                if self.announce:
                    log.info(
                        "NEST prepares its delivery tables (%d connections sorted by source)",
                        n_conn,
                    )
                first = min(ms, self.sim.get_time_step())
                self.sim.run(first)
                ms -= first
            if ms > 1e-9:
                nest.Prepare()
                self.prepared = True
            self.setup_s += time.perf_counter() - t0
            if self.prepared and self.announce:
                log.info("prepared in %.1f s", self.setup_s)
        if ms > 1e-9:
            nest.Run(ms)


@contextlib.contextmanager
def chunked_run(sim, announce: bool = True):
    """An ``advance(ms)`` (:class:`ChunkedAdvance`) for
    :func:`pynn_microcircuit.runner.simulate` that costs one NEST Prepare/Cleanup cycle
    instead of one per chunk: PyNN's ``run`` advances the first time step (its bookkeeping:
    recording devices, the extra step it simulates on the first run), everything else goes
    through ``nest.Run`` between one ``nest.Prepare`` and one ``nest.Cleanup`` (NEST's
    documented way to run in steps; ``nest.Simulate`` is Prepare + Run + Cleanup). Only one
    step before the Prepare, because NEST's ASCII recording backend opens its files anew
    (truncated) at every Prepare: spikes recorded during PyNN's ``run`` would be lost, and
    one step (two with PyNN's extra one) is before any recorder's start
    (:func:`first_step_ms`)."""
    import nest

    advance = ChunkedAdvance(sim, announce)
    try:
        yield advance
    finally:
        if advance.prepared:
            nest.Cleanup()


def first_step_ms(resolution_ms: float) -> float:
    """Model time (ms) that :func:`chunked_run` simulates before its ``nest.Prepare``: one
    step and the extra step PyNN's first ``run`` adds. A recorder writing files (ASCII
    backend) must start at or after it."""
    return 2.0 * resolution_ms


def release_nest_memory() -> None:
    """Drop the network (``nest.ResetKernel``) and hand the freed heap back to the system.

    Called once everything has been read from NEST, so that writing and checking the spikes
    (their imports and arrays: 26 MB at n = k = 0.2) do not sit on top of the network and
    raise the run's peak memory. NEST's threads allocate in their own malloc arenas, which
    the main thread's later allocations do not reuse, so the memory is also returned with
    glibc's ``malloc_trim(0)`` (measured at n = k = 0.2: resident 1156 -> 127 MB; without it
    nothing is returned and the peak rises by 17 MB). Elsewhere than glibc the trim is skipped.
    """
    import ctypes
    import ctypes.util

    nest.ResetKernel()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def read_complete(backend, label: str, expected: int, spike_dir: Path):
    """``backend.spikes_of(label)`` from NEST's spike files, refused unless they hold every
    spike the recorder received: a disk that filled while NEST wrote them loses spikes
    silently (NEST's ASCII backend does not report a failed write). On a refusal the files
    are removed (they free the disk; the run directory stays marked INCOMPLETE)."""
    free = shutil.disk_usage(spike_dir).free
    try:
        ids, times = backend.spikes_of(label)
    except UserError as exc:
        shutil.rmtree(spike_dir, ignore_errors=True)  # unusable; frees the disk
        raise UserError(f"{exc} - the disk may have filled ({free / 2**20:.1f} MiB free)") from None
    if ids.size != expected:
        shutil.rmtree(spike_dir, ignore_errors=True)
        raise UserError(
            f"NEST's spike files of {label} in '{spike_dir}' hold {ids.size} of the {expected} "
            f"spikes it recorded ({free / 2**20:.1f} MiB free on that disk): nothing stored; "
            "free space and run again"
        )
    return ids, times


def run_nest(
    spec: ModelSpec,
    opts: RunOptions,
    out: str | Path | None = None,
    plan: dict | None = None,
    progress=None,
    extra: dict | None = None,
    weight_quanta: dict | None = None,
    emulation: dict | None = None,
) -> Path:
    """Build and simulate ``spec`` with NEST through PyNN; returns the run directory.

    The directory holds ``spikes.h5`` (spikes after the warm-up, SONATA layout) and
    ``run.json`` (the spec, options, seed, versions, timings, memory, rates). Under MPI
    (``mpirun -np R``), rank 0 creates and writes the directory with the spikes of all ranks
    (:mod:`pynn_microcircuit.platforms.mpi`); every rank returns its path.
    """
    progress = progress or (lambda *a: None)
    comm = Comm()
    n_conn = largest_synapse_type(spec)
    # NEST's connection limit is per thread and synapse type: R ranks x T threads share them
    threads, why = choose_threads(n_conn / comm.size, opts.threads)
    if why and comm.is_root:
        log.warning(why)
    stem = f"nest_n{spec.n_scale:g}_k{spec.k_scale:g}_{spec.method}_s{opts.seed}"
    run_dir = Path(root_decides(comm, lambda: str(rundir.new_run_dir(out, stem))))
    if comm.is_root:
        log.info("run directory %s (NEST %s)", run_dir, nest.__version__)

    # one process: spikes to files (NEST's ASCII backend), read after the network is gone
    spike_dir = None
    if comm.size == 1 and opts.t_presim_ms >= first_step_ms(spec.resolution_ms):
        spike_dir = run_dir / SPIKE_FILES_DIR
        spike_dir.mkdir()
    t_build0 = time.perf_counter()
    sim = setup(spec.resolution_ms, opts.seed, threads)
    built = _build(sim, spec, opts, threads * comm.size, spike_dir, weight_quanta, emulation,
                   comm.is_root)  # fmt: skip
    t_build = time.perf_counter() - t_build0
    t_total = opts.t_presim_ms + opts.t_sim_ms
    t_sim0 = time.perf_counter()
    with chunked_run(sim, announce=comm.is_root) as advance:
        simulate(sim, t_total, opts.progress_chunks,
                 progress if comm.is_root else lambda *a: None, advance=advance)  # fmt: skip
    t_simulate = time.perf_counter() - t_sim0
    timings = {"build": t_build, "simulate": t_simulate,
               "prepare": advance.setup_s,  # part of t_simulate, as in PyNEST's Simulate
               **built.net.build_phases_s}  # fmt: skip
    parts, n_syn_nest, n_recorded = _collect_spikes(built, spike_dir, t_total, comm)
    peak_rss = [int(x) for x in (comm.gather(peak_rss_bytes()) or [])]
    if not comm.is_root:
        return run_dir
    populations = store_spikes(
        run_dir, spec, merge_spikes(parts), n_recorded, opts.t_presim_ms, t_total
    )
    activity = activity_check(spec, populations)
    peak_rss[0] = max(peak_rss[0], peak_rss_bytes())  # the root's writing included
    details = {
        "threads": threads,
        "mpi_ranks": int(nest.NumProcesses()),
        "n_connections_nest": n_syn_nest,
        "nest_synapse_models": sorted(set(built.types.values())),
        "real_time_factor": t_simulate / (t_total * 1e-3),
        "peak_rss_bytes_per_rank": peak_rss,
        "backend": built.backend.name,
        **activity,
        **(extra or {}),
    }
    if built.emulated is not None:
        details["emulation"] = built.emulated
    if activity["activity_note"]:
        log.warning(activity["activity_note"])
    RunRecord.for_model(
        "nest", spec, opts,
        simulated=True,
        populations=populations,
        timings_s=timings,
        peak_rss_bytes=max(peak_rss),
        versions=rundir.versions(),
        plan=plan,
        details=details,
    ).write(run_dir)  # fmt: skip
    return run_dir


@dataclass
class _Built:
    net: object
    backend: NestBackend
    types: dict
    emulated: dict | None


def _build(sim, spec, opts, vps: int, spike_dir, weight_quanta, emulation, is_root) -> _Built:
    """The network on ``vps`` virtual processes: synapse storage chosen, weights rounded to
    SpiNNaker's quanta when given (:mod:`.emulation`)."""
    compact = uses_compact(spec, vps, opts.synapses, opts.t_sim_ms)
    if compact and opts.synapses == "auto" and is_root:
        log.warning(
            "compact synapses (static_synapse_hpc): plain ones would not fit this machine's "
            "memory (a third less memory at full scale; simulation there 1.3x slower)"
        )
    types = synapse_types(spec, vps, compact=compact)
    quantiser = None
    if weight_quanta is not None:
        from .emulation import WeightQuantiser

        quantiser = WeightQuantiser(weight_quanta, opts.seed)
    backend = NestBackend(sim, opts.seed, types, spike_dir=spike_dir, quantiser=quantiser)
    net = build_for_run(sim, spec, opts, backend)
    emulated = None
    if quantiser is not None:
        from pynn_microcircuit.quantisation import summary

        emulated = {
            **(emulation or {}),
            **summary(spec, weight_quanta),
            "projections": quantiser.projections,
            "covers": "weights rounded as sPyNNaker stores them; not the s16.15 neuron state, "
            "decay factors, packet loss or real-time overruns",
        }
    return _Built(net, backend, types, emulated)


def _collect_spikes(built: _Built, spike_dir, t_end: float, comm):
    """Every rank's spikes up to ``t_end`` ms (gathered on the root), NEST's connection count
    over all ranks, and the recorded neurons per population; the network is deleted first
    and spike files are read after it (not on top of its memory)."""

    def kept(ids, times):
        # PyNN lets NEST run one min_delay past the requested time to deliver the last
        # spikes; spikes stamped after t_end fall outside the run and are not stored
        return ids[times <= t_end + 1e-9], times[times <= t_end + 1e-9]

    net, backend = built.net, built.backend
    names = list(net.populations)
    local = None if spike_dir else {k: kept(*v) for k, v in net.spikes().items()}
    expected = backend.recorded_counts() if spike_dir is not None else None
    # num_connections counts this rank's connections only
    n_syn_nest = int(comm.allreduce_sum(nest.GetKernelStatus("num_connections")))
    n_recorded = net.n_recorded
    built.net = None
    del net
    release_nest_memory()
    if spike_dir is not None:
        local = {k: kept(*read_complete(backend, k, expected[k], spike_dir)) for k in names}
        shutil.rmtree(spike_dir)
    return comm.gather(local), n_syn_nest, n_recorded
