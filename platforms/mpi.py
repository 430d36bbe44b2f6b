"""MPI for runs under ``mpirun`` (NEST, and NEURON through PyNN's generic route): who
writes, and gathering to the writer.

A run under ``mpirun -np R python run.py --platform nest ...`` is one run directory written
once: rank 0 creates it (and tells the others its name), every rank records the spikes of
its own neurons, rank 0 gathers them (mpi4py, as PyNN does) and writes ``spikes.h5`` and
``run.json``. Without an MPI launcher (or with one rank) nothing here imports mpi4py.
"""

from __future__ import annotations

import os

import numpy as np

from pynn_microcircuit.errors import UserError

#: Environment variables MPI launchers set to the number of processes.
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS")


def launched_size() -> int:
    """Number of processes the launcher started (1 without a launcher)."""
    for var in _SIZE_VARS[:3]:
        if os.environ.get(var):
            return int(os.environ[var])
    return 1


def launched_rank() -> int:
    """This process's rank as the launcher set it (Open MPI, MPICH/Hydra, PMIx; 0 without a
    launcher): known before MPI is initialised, so the other ranks can be quiet from the
    first log line."""
    for var in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"):
        if os.environ.get(var):
            return int(os.environ[var])
    return 0


class Comm:
    """The world communicator, or a single-process stand-in when there is no MPI."""

    def __init__(self):
        self.size = launched_size()
        self._comm = None
        if self.size > 1:
            try:
                from mpi4py import MPI
            except ImportError:
                raise UserError(
                    "started under mpirun but mpi4py is missing; use the MPI build "
                    "(platforms/nest/build_mpi_nest.sh), which installs it"
                ) from None
            self._comm = MPI.COMM_WORLD
            self.size = self._comm.Get_size()
        self.rank = self._comm.Get_rank() if self._comm else 0

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def bcast(self, obj):
        return self._comm.bcast(obj, root=0) if self._comm else obj

    def gather(self, obj) -> list | None:
        """Objects of all ranks on rank 0 (None elsewhere)."""
        if not self._comm:
            return [obj]
        return self._comm.gather(obj, root=0)

    def allreduce_max(self, value):
        if not self._comm:
            return value
        from mpi4py import MPI

        return self._comm.allreduce(value, op=MPI.MAX)

    def allreduce_sum(self, value):
        if not self._comm:
            return value
        from mpi4py import MPI

        return self._comm.allreduce(value, op=MPI.SUM)


def merge_spikes(parts: list[dict]) -> dict:
    """Join per-rank ``{pop: (ids, times)}`` into one, sorted by time then id."""
    out = {}
    for pop in parts[0]:
        ids = np.concatenate([p[pop][0] for p in parts]).astype(np.int64)
        times = np.concatenate([p[pop][1] for p in parts]).astype(float)
        order = np.lexsort((ids, times))
        out[pop] = (ids[order], times[order])
    return out


def root_decides(comm: Comm, make):
    """Run ``make()`` on rank 0 and give its result (or its UserError) to every rank."""
    result = None
    if comm.is_root:
        try:
            result = ("ok", make())
        except UserError as exc:
            result = ("error", str(exc))
    result = comm.bcast(result)
    if result[0] == "error":
        raise UserError(result[1])
    return result[1]
