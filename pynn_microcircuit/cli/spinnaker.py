"""``run.py --platform spinnaker ...`` and ``run.py submit|status|fetch jobs/<name>``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ..budget import SETTINGS
from ..errors import UserError
from ..rundir import JOBS_ROOT
from .args import Parser

log = logging.getLogger("pynn_microcircuit")


def _knobs(args, the_plan):
    """The run's SpiNNaker knobs: the plan's (or the defaults) with the command's over them."""
    from pynn_microcircuit.platforms.spinnaker.quanta import knobs_from_settings

    return knobs_from_settings(vars(args), the_plan.predicted[SETTINGS] if the_plan else None)


def _within(mapping: dict, budget: dict | None) -> list[str]:
    """Budget items the real mapping exceeds."""
    return [
        f"{k} {mapping[k]} > {v}"
        for k, v in (budget or {}).items()
        if k in ("cores", "chips", "boards") and mapping.get(k, 0) > v
    ]


def run_ensemble(args, argv, spec) -> int:
    """Several seeds of one model file, one after another, each in its own process (one
    sPyNNaker setup per process) in the same allocation: ``OUT/reference.json`` and
    ``OUT/seed_<s>/``, the layout of a reference directory."""
    import subprocess

    from ..rundir import write_json_atomic

    if not args.out:
        raise UserError("a model file with several seeds needs --out (the ensemble directory)")
    out = Path(args.out)
    if out.exists():
        raise UserError(f"output directory '{out}' already exists; nothing overwritten")
    out.mkdir(parents=True)
    meta = {
        "platform": "spinnaker",
        "n_scale": spec.n_scale,
        "k_scale": spec.k_scale,
        "method": spec.method,
        "t_sim_ms": args.t_sim,
        "t_presim_ms": args.t_presim,
        "model_fingerprint": args.model_fingerprint,
        "seeds": args.seeds,
    }
    write_json_atomic(out / "reference.json", meta)
    base = _without_option(argv, "--out")
    failed = []
    for seed in args.seeds:
        log.info("ensemble: seed %d (%d of %d)", seed, args.seeds.index(seed) + 1, len(args.seeds))
        cmd = [sys.executable, "-m", "pynn_microcircuit", *base]
        cmd += ["--seed", str(seed), "--out", str(out / f"seed_{seed}")]
        if subprocess.run(cmd).returncode != 0:
            failed.append(seed)
    if failed:
        raise UserError(f"ensemble seeds {failed} failed; the others are in {out}")
    print(f"ensemble directory: {out} ({len(args.seeds)} seeds)")
    return 0


def _without_option(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            out.append(a)
    return out


def run_on_spinnaker(args, argv, params, spec, the_plan) -> int:
    """Map (dry run) or run on SpiNNaker; after a dry run, prepare a job under jobs/.

    Inside an EBRAINS job the top process (``--out run_output``; an ensemble's seeds run in
    child processes with their own ``--out``) packs what the run wrote into the job's one
    results file, also after a failure (:func:`~pynn_microcircuit.platforms.spinnaker.jobs.pack_results`).
    """
    from pynn_microcircuit.platforms.spinnaker.jobs import REMOTE_OUT, pack_results

    if not (args.ebrains_job and args.out and Path(args.out) == Path(REMOTE_OUT)):
        return _run_on_spinnaker(args, argv, params, spec, the_plan)
    try:
        return _run_on_spinnaker(args, argv, params, spec, the_plan)
    finally:
        pack_results(Path(args.out), args.model_fingerprint or "unknown")


def _run_on_spinnaker(args, argv, params, spec, the_plan) -> int:
    if args.model and len(args.seeds) > 1 and (args.ebrains_job or args.machine or args.spalloc):
        return run_ensemble(args, argv, spec)
    from pynn_microcircuit.platforms.spinnaker.capacity import predict_mapping
    from pynn_microcircuit.platforms.spinnaker.run import run_spinnaker
    from pynn_microcircuit.platforms.spinnaker.setup import machine_for

    from ..budget import parse_budget
    from ..runner import RunOptions

    budget = parse_budget(args.budget, args.platform) if args.budget else None
    knobs = _knobs(args, the_plan)
    pred = predict_mapping(spec, knobs)
    if not pred.feasible:
        raise UserError(f"n={spec.n_scale:g}, k={spec.k_scale:g} cannot map: {pred.problems[0]}")
    machine = machine_for(vars(args), budget, pred.chips)
    opts = RunOptions(
        t_presim_ms=args.t_presim,
        t_sim_ms=args.t_sim,
        seed=args.seed,
        record_fraction=args.record_fraction,
    )
    log.info(
        "SpiNNaker %s: %d neurons/core, time-scale factor %d, planning rate %g Hz, delay "
        "extensions %s; predicted %d cores, %d chips",
        machine.mode,
        knobs.neurons_per_core,
        knobs.time_scale_factor,
        knobs.spikes_per_second,
        "on" if knobs.delay_extensions else "off",
        pred.cores,
        pred.chips,
    )
    model = _model(args, params, spec, knobs)
    run_dir = run_spinnaker(
        spec,
        opts,
        knobs,
        machine,
        out=args.out,
        plan=the_plan.to_dict() if the_plan else None,
        budget=budget,
        extra={
            "params": params.to_dict(),
            "command": ["run.py", *argv],
            "model_fingerprint": args.model_fingerprint or model["fingerprint"],
            "code": code_version(),
        },
    )
    return _after_mapping(args, run_dir, pred, budget, machine, model)


def _after_mapping(args, run_dir: Path, pred, budget: dict | None, machine, model: dict) -> int:
    """Say what was mapped (and whether it fits the budget), the run's validity if it ran,
    and after a dry run prepare the job under jobs/. Exit code 3: the mapping exceeds the
    budget."""
    from ..rundir import read_run_json

    rec = read_run_json(run_dir)
    m = rec["mapping"]
    print(
        f"mapped: {m['cores']} cores, {m['chips']} chips, {m['boards']} board(s) "
        f"({', '.join(f'{k} {v}' for k, v in sorted(m['cores_by_kind'].items()))}); "
        f"predicted {pred.cores} cores, {pred.chips} chips"
    )
    over = _within(m, budget)
    if budget:
        print(f"budget {args.budget}: " + ("EXCEEDED - " + "; ".join(over) if over else "fits"))
    print(f"run directory: {run_dir}")
    if rec["simulated"]:
        print("simulated on SpiNNaker; analyse with: python run.py analyse " + str(run_dir))
        if rec.get("valid") is not True:
            from pynn_microcircuit.platforms.spinnaker.provenance import summary

            print(summary(rec.get("provenance")) or "provenance not read")
        return 0
    if machine.mode == "ebrains":
        print("nothing was simulated: the job's machine is a virtual board")
        return 0
    print(
        f"nothing was simulated: sPyNNaker mapped the model on a virtual {machine.boards}-board "
        "machine (no board reachable from here)"
    )
    try:
        job_dir, job = _prepare_job(args, model, run_dir)
    except UserError as exc:  # the mapping stands; only the job could not be made
        print(f"job not prepared: {exc}")
        return 3 if over else 0
    if job["dirty"]:
        print(
            "note: your tree has uncommitted changes; they are packed into the job's code, "
            "and submit asks for --allow-dirty (commit and prepare again to avoid it)"
        )
    print(f"job prepared: {job_dir}/job.yaml - set 'collab', then: python run.py submit {job_dir}")
    return 3 if over else 0


def _model(args, params, spec, knobs) -> dict:
    """The model file's content for this run (the whole model, times, seeds, knobs)."""
    from ..modelfile import model_record

    run = {
        "t_presim_ms": float(args.t_presim),
        "t_sim_ms": float(args.t_sim),
        "seeds": [int(s) for s in args.seeds],
        "record_fraction": float(args.record_fraction),
    }
    return model_record(params, spec, args.allow_partial, run, {"knobs": knobs.to_dict()})


def code_version() -> dict:
    """The commit of this package's code (and whether the tree had changes), if known."""
    from pynn_microcircuit.platforms.spinnaker.code import describe_code

    return describe_code()


def _prepare_job(args, model: dict, run_dir: Path) -> tuple[Path, dict]:
    """``jobs/<name>/``: job.yaml, model.json and the code archive that runs the same model
    on the EBRAINS SpiNNaker machine (see platforms/spinnaker/jobs.py); the folder and its
    job.yaml content."""
    from pynn_microcircuit.platforms.spinnaker.jobs import prepare_job

    name = args.job or Path(run_dir).name
    return prepare_job(
        JOBS_ROOT,
        name,
        model,
        collab=os.environ.get("EBRAINS_COLLAB"),
        code_url=args.code_url,
        dry_run=str(run_dir),
    )


def _job_parser(prog: str, what: str) -> argparse.ArgumentParser:
    ap = Parser(prog=f"run.py {prog}", description=what)
    ap.add_argument("job", help="job directory, e.g. jobs/<name>")
    return ap


def cmd_submit(argv) -> int:
    from pynn_microcircuit.platforms.spinnaker.jobs import submit

    ap = _job_parser("submit", "Submit a job to the EBRAINS SpiNNaker machine.")
    ap.add_argument(
        "--allow-dirty",
        action="store_true",
        help="submit a job whose code archive includes uncommitted changes",
    )
    args = ap.parse_args(argv)
    job_id = submit(args.job, allow_dirty=args.allow_dirty)
    print(f"submitted {args.job} as job {job_id}; follow it with: python run.py status {args.job}")
    return 0


def cmd_status(argv) -> int:
    from pynn_microcircuit.platforms.spinnaker.jobs import status

    args = _job_parser("status", "Status of a submitted job.").parse_args(argv)
    st = status(args.job)
    print(f"job {st['job_id']}: {st['status']}")
    for line in st["log_tail"]:
        print(f"  | {line}")
    return 0


def cmd_fetch(argv) -> int:
    from pynn_microcircuit.platforms.spinnaker.jobs import fetch

    ap = _job_parser("fetch", "Download a finished job's output into a new run directory.")
    ap.add_argument("--runs", default="runs", help="where the run directory is created")
    args = ap.parse_args(argv)
    run_dir = fetch(args.job, args.runs)
    print(f"run directory: {run_dir}\nanalyse it: python run.py analyse {run_dir}")
    return 0
