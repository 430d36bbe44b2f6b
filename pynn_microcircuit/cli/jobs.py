"""``run.py submit``: a SpiNNaker job directory to EBRAINS, or NEST work to SLURM.

python run.py submit jobs/<name>                                   # SpiNNaker (EBRAINS)
python run.py submit --scheduler slurm [--dry-run] run --n-scale 1 --k-scale 1 ...
python run.py submit --scheduler slurm reference --seeds 0-9 --t-sim 10000
python run.py submit --scheduler slurm sweep --reference REF --scales 1,0.5,0.2
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

from ..errors import UserError
from ..rundir import JOBS_ROOT
from .args import Parser

#: Baseline memory of one NEST process (capacity model intercept), added per extra MPI rank.
RANK_BASE_BYTES = 1.6e8


def _slurm_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="run.py submit --scheduler slurm",
        description="Write SLURM scripts for a run, a reference ensemble (array over seeds) "
        "or a sweep (array over grid cells) and submit them with sbatch.",
    )
    ap.add_argument("--scheduler", choices=["slurm"], required=True)
    ap.add_argument("--dry-run", action="store_true", help="write the scripts, do not submit")
    ap.add_argument("--name", default=None, help="job folder name under jobs/")
    ap.add_argument("--ranks", type=int, default=1, help="MPI ranks per run (MPI NEST)")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--partition", default=None)
    ap.add_argument("--account", default=None)
    ap.add_argument("kind", choices=["run", "reference", "sweep"])
    ap.add_argument("args", nargs=argparse.REMAINDER, help="options of run.py KIND")
    return ap


def _task(args: list[str], pred: dict, ranks: int):
    from pynn_microcircuit.platforms.slurm.jobs import Task

    return Task(
        args=args,
        memory_bytes=pred["memory"] + (ranks - 1) * RANK_BASE_BYTES,
        walltime_s=pred["walltime"],
        threads=int(pred["threads"]),
    )


def _cell_args(cell, run_dir: Path, common: list[str]) -> list[str]:
    return [*cell.args(), *common, "--no-analysis", "-q", "--out", str(run_dir)]


def slurm_job(opts):
    """The :class:`pynn_microcircuit.platforms.slurm.jobs.BatchJob` for ``opts.kind`` with ``opts.args``."""
    from pynn_microcircuit.platforms.slurm.jobs import BatchJob

    from ..params import Params
    from .study import (
        _run_options,
        reference_parser,
        reference_setup,
        sweep_parser,
        sweep_setup,
    )

    kind, argv = opts.kind, list(opts.args)
    if "--dry-run" in argv:
        raise UserError("put --dry-run before the kind: run.py submit --scheduler slurm --dry-run")
    name = opts.name or f"{kind}_{_dt.datetime.now():%Y%m%d_%H%M%S}"
    common = dict(
        name=name, kind=kind, ranks=opts.ranks, nodes=opts.nodes,
        partition=opts.partition, account=opts.account,
    )  # fmt: skip
    if kind == "run":
        from pynn_microcircuit.platforms.nest.capacity import predict

        from .main import _spec_from_args, build_run_parser

        args = build_run_parser().parse_args(argv)
        _check_batch_platform(args.platform)
        _, spec, _ = _spec_from_args(args)
        pred = predict(spec, args.threads, args.t_presim, args.t_sim)
        return BatchJob(tasks=[_task(argv, pred, opts.ranks)], **common)
    if kind == "reference":
        args = reference_parser().parse_args(argv)
        _check_batch_platform(args.platform)
        out, plan = reference_setup(args)
        tasks = [
            _task(_cell_args(c, d, _run_options(args)), plan.predictions[c.name], opts.ranks)
            for c, d in plan.todo()
        ]
        if not tasks:
            raise UserError(f"every seed of '{out}' is finished; nothing to submit")
        return BatchJob(tasks=tasks, finalize=["reference", *argv, "-q"], **common)
    args = sweep_parser().parse_args(argv)
    _check_batch_platform(args.platform)
    st = sweep_setup(args, Params())
    tasks = []
    for plan in (st["ref_plan"], st["run_plan"]):
        for c, d in plan.todo():
            tasks.append(
                _task(_cell_args(c, d, _run_options(args)), plan.predictions[c.name], opts.ranks)
            )
    if not tasks:
        raise UserError(f"every run of '{st['out']}' is finished; run 'run.py sweep' to analyse")
    return BatchJob(tasks=tasks, finalize=["sweep", *argv, "-q"], **common)


def _resources_line(job_dir: Path, threads_given: bool) -> str:
    """What each task asks SLURM for (from the job's job.yaml), and where the numbers come
    from; says when the threads are this machine's core count rather than the user's."""
    import yaml

    meta = yaml.safe_load((job_dir / "job.yaml").read_text())
    cpus = meta["cpus_per_task"]
    whence = (
        "--threads"
        if threads_given
        else "this machine's cores; pass --threads N (after the kind) to match your nodes"
    )
    return (
        f"each task asks for {cpus} CPUs ({whence}), {meta['memory_mb'] / 1024:.1f} GiB and "
        f"{meta['time']} (capacity model: memory +30 % and 200 MiB, time x2 + 10 min)"
    )


def cmd_submit(argv) -> int:
    if "--scheduler" not in argv:
        from .spinnaker import cmd_submit as submit_spinnaker

        return submit_spinnaker(argv)
    from pynn_microcircuit.platforms.slurm.jobs import sbatch, write_scripts

    from .main import _setup_logging

    opts = _slurm_parser().parse_args(argv)
    _setup_logging(True)
    if opts.ranks < 1 or opts.nodes < 1:
        raise UserError("--ranks and --nodes must be >= 1")
    job = slurm_job(opts)
    job_dir = write_scripts(job, JOBS_ROOT)
    n = len(job.tasks)
    print(
        f"wrote {job_dir}/run.sbatch ({n} task{'s' if n > 1 else ''}"
        + (", array" if n > 1 else "")
        + ")"
        + (", finalize.sbatch" if job.finalize else "")
    )
    print(_resources_line(job_dir, "--threads" in opts.args))
    if opts.dry_run:
        then = (
            f"; after it succeeds: sbatch --dependency=afterok:<id> {job_dir}/finalize.sbatch"
            if job.finalize
            else ""
        )
        print(f"not submitted (--dry-run); submit with: sbatch {job_dir}/run.sbatch{then}")
        return 0
    ids = sbatch(job_dir)
    print("submitted: " + ", ".join(f"{k} {v}" for k, v in ids.items()))
    return 0


def _check_batch_platform(name: str) -> None:
    """SLURM jobs run platforms that take batch jobs (their capacity model sizes the job)."""
    from ..platform import get_platform, platform_names

    if not get_platform(name).batch_jobs:
        batch = [n for n in platform_names() if get_platform(n).batch_jobs]
        raise UserError(
            f"SLURM jobs run --platform {' or '.join(batch)}, not {name}; run --platform "
            f"{name} here"
        )
