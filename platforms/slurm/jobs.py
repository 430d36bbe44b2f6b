"""SLURM batch scripts for single runs, reference ensembles and sweeps.

``python run.py submit --scheduler slurm KIND [options]`` writes ``jobs/<name>/`` with
``job.yaml`` (what was asked), ``run.sbatch`` (one run, or an array: one task per seed of a
reference ensemble or per cell of a sweep) and, for ensembles and sweeps, ``finalize.sbatch``
(after all tasks succeeded: the same ``run.py reference|sweep`` command, which finds every run
finished and only computes statistics, figures and the report). Resources come from the NEST
capacity model: memory (+30 % + 200 MiB), CPUs = threads, wall time (x2 + 10 min, the model is rough).
With MPI ranks (``--ranks R``) each task runs ``mpirun -np R`` (an MPI-enabled NEST, see
``platforms/nest/build_mpi_nest.sh``). Results land in the same directories as local runs.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pynn_microcircuit.entry import shell_command
from pynn_microcircuit.errors import UserError

MEMORY_MARGIN = 1.3
WALLTIME_FACTOR = 2.0
WALLTIME_EXTRA_S = 600.0


@dataclass
class Task:
    """One array task: the ``run.py`` arguments and its predicted resources."""

    args: list[str]
    memory_bytes: float
    walltime_s: float
    threads: int


@dataclass
class BatchJob:
    """What to write: tasks (one script, an array if more than one) and a finalize command."""

    name: str
    kind: str
    tasks: list[Task]
    finalize: list[str] | None = None
    ranks: int = 1
    nodes: int = 1
    partition: str | None = None
    account: str | None = None
    extra: dict = field(default_factory=dict)


def _mem_mb(b: float) -> int:
    """Memory request (MiB): the prediction +30 % and 200 MiB for Python's own variation."""
    return int(math.ceil(b * MEMORY_MARGIN / 2**20)) + 200


def _time(s: float) -> str:
    s = int(math.ceil(s * WALLTIME_FACTOR + WALLTIME_EXTRA_S))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


def _header(job: BatchJob, name: str, resources: tuple, log: str) -> list[str]:
    """``#SBATCH`` lines; ``resources`` = (nodes, ranks, cpus per task, memory MiB, time)."""
    nodes, ranks, cpus, mem_mb, walltime = resources
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job.name}-{name}",
        f"#SBATCH --nodes={nodes}",
        f"#SBATCH --ntasks={ranks}",
        f"#SBATCH --cpus-per-task={cpus}",
        f"#SBATCH --mem={mem_mb}M",
        f"#SBATCH --time={walltime}",
        f"#SBATCH --chdir={Path.cwd()}",
        f"#SBATCH --output={log}",
    ]
    if job.partition:
        lines.append(f"#SBATCH --partition={job.partition}")
    if job.account:
        lines.append(f"#SBATCH --account={job.account}")
    return lines


def _python_cmd(args: list[str], ranks: int = 1) -> str:
    cmd = shell_command(*args)
    return f'mpirun -np "$SLURM_NTASKS" {cmd}' if ranks > 1 else cmd


def write_scripts(job: BatchJob, jobs_root: Path) -> Path:
    """Write ``jobs_root/<name>/`` (never over an existing job); returns the folder."""
    job_dir = Path(jobs_root) / job.name
    if job_dir.exists():
        raise UserError(f"job '{job_dir}' exists; choose another --name (nothing overwritten)")
    (job_dir / "logs").mkdir(parents=True)
    logs = job_dir.resolve() / "logs"
    mem = max(_mem_mb(t.memory_bytes) for t in job.tasks) // max(job.nodes, 1)
    wall = _time(max(t.walltime_s for t in job.tasks))
    cpus = max(t.threads for t in job.tasks)
    n = len(job.tasks)
    log = logs / ("run_%A_%a.out" if n > 1 else "run_%j.out")
    lines = _header(job, "run", (job.nodes, job.ranks, cpus, mem, wall), str(log))
    if n > 1:
        lines.append(f"#SBATCH --array=0-{n - 1}")
    lines += ["set -euo pipefail", f"export OMP_NUM_THREADS={cpus}"]
    if n > 1:
        lines.append('case "$SLURM_ARRAY_TASK_ID" in')
        for i, t in enumerate(job.tasks):
            lines.append(f"  {i}) {_python_cmd(t.args, job.ranks)} ;;")
        lines.append("esac")
    else:
        lines.append(_python_cmd(job.tasks[0].args, job.ranks))
    (job_dir / "run.sbatch").write_text("\n".join(lines) + "\n")
    if job.finalize:  # statistics and figures only: one process
        fin = _header(job, "finalize", (1, 1, 1, 4096, _time(900)), str(logs / "finalize_%j.out"))
        fin += ["set -euo pipefail", _python_cmd(job.finalize)]
        (job_dir / "finalize.sbatch").write_text("\n".join(fin) + "\n")
    meta = {
        "platform": "slurm",
        "kind": job.kind,
        "tasks": [t.args for t in job.tasks],
        "finalize": job.finalize,
        "ranks": job.ranks,
        "nodes": job.nodes,
        "memory_mb": mem,
        "time": wall,
        "cpus_per_task": cpus,
        **job.extra,
    }
    (job_dir / "job.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return job_dir


def sbatch(job_dir: Path) -> dict:
    """Submit ``run.sbatch`` (and ``finalize.sbatch`` after it succeeds); returns the ids."""
    if shutil.which("sbatch") is None:
        raise UserError(
            "sbatch not found: run this on a SLURM login node, or use --dry-run to only "
            "write the scripts"
        )
    ids = {"run": _sbatch([job_dir / "run.sbatch"])}
    if (job_dir / "finalize.sbatch").is_file():
        ids["finalize"] = _sbatch(
            [f"--dependency=afterok:{ids['run']}", job_dir / "finalize.sbatch"]
        )
    (job_dir / "submission.json").write_text(json.dumps(ids) + "\n")
    return ids


def _sbatch(args) -> str:
    proc = subprocess.run(["sbatch", "--parsable", *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"sbatch refused the job: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout.strip().split(";")[0]
