"""Command line: ``python run.py [run options]`` and ``python run.py SUBCOMMAND ...``."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path

from .. import platforms as _builtin_platforms  # noqa: F401 - registers nest, neuron, spinnaker
from ..budget import SETTINGS
from ..errors import UserError
from ..platform import CapacityOptions, RunRequest, get_platform, platform_names, platforms_taking
from ..runner import DEFAULT_T_PRESIM_MS, DEFAULT_T_SIM_MS, SYNAPSE_CHOICES
from ..scaling import METHODS
from .args import Parser

log = logging.getLogger("pynn_microcircuit")

DEFAULT_SCALE = 0.1


def _positive_float(name):
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(v) or v < 0:
            raise argparse.ArgumentTypeError(f"{name} must be a finite number >= 0, got {text}")
        return v

    return parse


def _scale(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"scale must be a number in (0, 1], got {text!r}"
        ) from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"scale must be in (0, 1], got {text}")
    return v


def _add_model_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--platform",
        default="nest",
        choices=platform_names(),
        help="simulator backend (default: nest): "
        + "; ".join(f"{n}: {get_platform(n).summary}" for n in platform_names()),
    )
    ap.add_argument(
        "--n-scale",
        type=_scale,
        default=None,
        help=f"N'/N, neuron-number scaling (default {DEFAULT_SCALE})",
    )
    ap.add_argument(
        "--k-scale",
        type=_scale,
        default=None,
        help="K'/K, in-degree scaling (default: same as --n-scale)",
    )
    ap.add_argument(
        "--method",
        choices=list(METHODS),
        default=None,
        help="downscaling method (default: n if k = 1, else sqrt-k)",
    )
    ap.add_argument(
        "--allow-partial",
        action="store_true",
        help="linear-k below k_min: drop all external variance, record the residual",
    )
    ap.add_argument(
        "--input",
        choices=["poisson", "dc"],
        default="poisson",
        help="external drive: Poisson trains or the equivalent DC",
    )
    ap.add_argument("--config", default=None, help="YAML file overriding PD14 parameters")
    ap.add_argument(
        "--rates",
        default="published",
        help="full-scale rates used by the K-scaling compensations: 'published' (default), "
        "'theory' (mean-field) or a full-scale run directory",
    )
    ap.add_argument(
        "--budget",
        default=None,
        help="hardware budget KEY=VALUE[,...]: nest takes memory=8GiB, threads=4, "
        "walltime=10min (whole run); spinnaker takes cores=800, chips=48, boards=1, "
        "slowdown=20 (allowed time-scale factor); the planner picks n, k, method (and the "
        "SpiNNaker settings) to fit it",
    )
    ap.add_argument(
        "--preserve",
        choices=["rates", "correlations", "balanced"],
        default="balanced",
        help="what the planner keeps first (default balanced)",
    )


def build_run_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="run.py",
        description="Run the Potjans & Diesmann (2014) microcircuit. Subcommands (each "
        "with --help): plan, analyse RUN, compare RUN --reference REF..., export RUN, "
        "import INM6_DIR, benchmark, "
        "reference, sweep, submit (jobs/<name> to EBRAINS, or --scheduler slurm ...), "
        "status JOB, fetch JOB.",
    )
    _add_model_args(ap)
    ap.add_argument(
        "--t-sim",
        type=_positive_float("--t-sim"),
        default=DEFAULT_T_SIM_MS,
        help="simulated time after the warm-up, ms (default 1000)",
    )
    ap.add_argument(
        "--t-presim",
        type=_positive_float("--t-presim"),
        default=DEFAULT_T_PRESIM_MS,
        help="warm-up discarded from the results, ms (default 500)",
    )
    ap.add_argument("--seed", type=int, default=12345, help="master random seed")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="NEST threads (default: all cores; raised if NEST needs more)",
    )
    ap.add_argument(
        "--synapses",
        choices=SYNAPSE_CHOICES,
        default="auto",
        help="NEST connection storage: full (static_synapse, fastest), compact "
        "(static_synapse_hpc: a third less memory at full scale, simulation 1.3x slower "
        "there), auto (full unless it would not fit this machine's memory or the --budget)",
    )
    ap.add_argument(
        "--record-fraction",
        type=float,
        default=1.0,
        help="fraction of each population whose spikes are recorded",
    )
    ap.add_argument("--out", default=None, help="new run directory (must not exist)")
    ap.add_argument(
        "--no-analysis",
        action="store_true",
        help="skip the analysis and report at the end of the run",
    )
    ap.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only warnings and the result (no progress lines)",
    )
    ap.add_argument(
        "--force",
        action="store_true",
        help="run even when the model is predicted not to fit this machine's memory",
    )
    ap.add_argument(
        "--model",
        default=None,
        help="model.json of a prepared job: the whole model, run options and platform "
        "settings (then no model option may be given)",
    )
    ap.add_argument(
        "--fingerprint",
        default=None,
        help="with --model: refuse to run unless the rebuilt model has this fingerprint",
    )
    _add_spinnaker_args(ap)
    _add_neuron_args(ap)
    return ap


#: Options a model file carries; giving one next to --model is refused.
MODEL_FILE_OPTIONS = (
    "--n-scale",
    "--k-scale",
    "--method",
    "--allow-partial",
    "--input",
    "--config",
    "--rates",
    "--budget",
    "--preserve",
    "--t-sim",
    "--t-presim",
    "--record-fraction",
    "--neurons-per-core",
    "--time-scale-factor",
    "--planning-rate",
    "--no-delay-extensions",
    "--seeds",
)


def _from_model_file(args, argv):
    """Parameters and spec from ``--model``; the file's run options and platform settings
    are put into ``args``. Returns (params, spec, seeds, fingerprint)."""
    from ..modelfile import locate_model, read_model

    given = [o for o in MODEL_FILE_OPTIONS if any(a == o or a.startswith(o + "=") for a in argv)]
    if given:
        raise UserError(
            f"--model carries the whole model; drop {', '.join(given)} (or drop --model)"
        )
    if args.ebrains_job and args.fingerprint:  # a git job's model is an input file
        args.model = str(locate_model(args.model, args.fingerprint))
    params, spec, run, settings, fp = read_model(args.model)
    if args.fingerprint and args.fingerprint != fp:
        raise UserError(
            f"model file '{args.model}' is not the model this job was prepared with "
            f"(fingerprint {fp[:12]} != {args.fingerprint[:12]}); prepare the job again"
        )
    args.t_sim, args.t_presim = float(run["t_sim_ms"]), float(run["t_presim_ms"])
    args.record_fraction = float(run["record_fraction"])
    knobs = settings.get("knobs") or {}
    args.neurons_per_core = knobs.get("neurons_per_core")
    args.time_scale_factor = knobs.get("time_scale_factor")
    args.planning_rate = knobs.get("spikes_per_second")
    args.no_delay_extensions = knobs.get("delay_extensions") is False
    seeds = [int(s) for s in run["seeds"]]
    if "--seed" in argv and args.seed not in seeds:
        raise UserError(f"--seed {args.seed} is not one of the model file's seeds {seeds}")
    return params, spec, seeds, fp


def _add_neuron_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("NEURON (--platform neuron)")
    g.add_argument(
        "--charge-match",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="(default on) divide every synaptic weight by dt/(tau_s (1 - exp(-dt/tau_s))) "
        "(1.103 at 0.1 ms) so each PSC delivers the model's exact charge on NEURON's fixed "
        "step; --no-charge-match runs NEURON's own integration (rates 25-110 %% above NEST's "
        "at n = 0.05: docs/neuron.md)",
    )


def _add_spinnaker_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group(
        "SpiNNaker (--platform spinnaker; without --machine/--spalloc/--ebrains-job the model "
        "is only mapped on a virtual machine and a job is prepared under jobs/)"
    )
    g.add_argument("--machine", default=None, help="hostname of a SpiNNaker board")
    g.add_argument(
        "--board-version",
        type=int,
        default=None,
        choices=(3, 5),
        help="with --machine: 3 for a 4-chip SpiNN-3 board, 5 (default) for a SpiNN-5 board",
    )
    g.add_argument(
        "--spalloc",
        default=None,
        help="spalloc server: https://[USER:PASSWORD@]host/... or old-style spalloc://USER@host[:port]",
    )
    g.add_argument("--spalloc-machine", default=None, help="machine name on the spalloc server")
    g.add_argument(
        "--ebrains-job", action="store_true", help="running inside an EBRAINS platform job"
    )
    g.add_argument("--neurons-per-core", type=int, default=None, help="default 64 (published)")
    g.add_argument("--time-scale-factor", type=int, default=None, help="1 = real time (default)")
    g.add_argument(
        "--planning-rate", type=float, default=None, help="spikes_per_second, default 30 Hz"
    )
    g.add_argument(
        "--no-delay-extensions",
        action="store_true",
        help="no delay-extension cores; the delay tail beyond a core's slots is redrawn",
    )
    g.add_argument(
        "--emulate",
        choices=["spinnaker"],
        default=None,
        help="(--platform nest) round every weight to the quantum sPyNNaker would store it "
        "with for these SpiNNaker settings (computed by sPyNNaker on a virtual board)",
    )
    g.add_argument("--job", default=None, help="name of the job prepared under jobs/")
    g.add_argument(
        "--seeds",
        dest="job_seeds",
        default=None,
        help="the prepared job runs these seeds one after another (e.g. 0-2): a reference "
        "ensemble that 'fetch' turns into a reference directory",
    )
    g.add_argument(
        "--code-commit", default=None, help="(jobs) refuse to run code other than this commit"
    )
    g.add_argument(
        "--code-url",
        default=None,
        help="URL@COMMIT of a repository you host that the job runs (default: an archive "
        "of your checked-out commit, kept in the job folder)",
    )


class _Progress:
    """One self-updating line on stderr: simulated time, wall time, real-time factor, and
    the time left at the pace of the latest chunk (the first chunk also carries the
    simulator's one-off preparation, which would inflate an average over all of them)."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self._last = (0.0, 0.0)  # (simulated ms, wall s) at the previous report

    def __call__(self, t_done, t_total, wall):
        frac = t_done / t_total if t_total else 1.0
        bar = "#" * int(30 * frac)
        rtf = wall / (t_done * 1e-3) if t_done else 0.0
        t_prev, wall_prev = self._last if t_done > self._last[0] else (0.0, 0.0)
        self._last = (t_done, wall)
        pace = (wall - wall_prev) / (t_done - t_prev) if t_done > t_prev else 0.0
        eta = pace * (t_total - t_done)
        line = (
            f"simulating [{bar:<30}] {t_done:8.1f}/{t_total:.0f} ms  {wall:6.1f} s  "
            f"({rtf:.1f}x real time, ~{eta:.0f} s left)"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if frac >= 1 else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _capacity_options(args) -> CapacityOptions:
    """What the platform's capacity model needs from the command line."""
    return CapacityOptions(
        t_presim_ms=args.t_presim,
        t_sim_ms=args.t_sim,
        threads=args.threads,
        record_fraction=getattr(args, "record_fraction", 1.0),
        synapses=getattr(args, "synapses", "auto"),
        analysis=not getattr(args, "no_analysis", False),
    )


def _capacity(args):
    """The platform's capacity model as the planner wants it: spec, budget -> resources."""
    return get_platform(args.platform).capacity(_capacity_options(args))


def _check_platform_options(ap: argparse.ArgumentParser, args, platform) -> None:
    """Options another platform owns (:attr:`~pynn_microcircuit.platform.Platform.options`)
    are refused when set for this one: they would be silently ignored."""
    for action in ap._actions:
        dest = action.dest
        owners = platforms_taking(dest)
        if not owners or platform.name in owners:
            continue
        value = getattr(args, dest, None)
        if value is not None and value != action.default:
            flag = "/".join(o for o in action.option_strings if o.startswith("--"))
            raise UserError(
                f"{flag} is an option of --platform {' or '.join(owners)}, "
                f"not {platform.name}; drop it or use --platform {owners[0]}"
            )


def compensation_rates(choice: str, params):
    """Full-scale rates for the compensations: published table, mean-field, or a run's rates."""
    if choice == "published":
        return None, "published"
    if choice == "theory":
        from ..scaling import make_spec
        from ..theory import self_consistent_rates

        return self_consistent_rates(make_spec(params, 1.0, 1.0)), "mean-field"
    from ..rundir import read_run_json

    rec = read_run_json(choice)
    if rec.get("n_scale") != 1 or rec.get("k_scale") != 1:
        raise UserError(
            f"--rates run '{choice}' is not full scale (n={rec.get('n_scale')}, "
            f"k={rec.get('k_scale')}); give a full-scale reference run"
        )
    pops = rec["populations"]
    return [pops[p]["mean_rate_hz"] for p in params.populations], f"run:{choice}"


def _spec_from_args(args):
    """Parameters, ModelSpec and (with --budget) the plan, from the command line."""
    from ..budget import fits, format_needs, parse_budget, plan
    from ..params import load_params
    from ..scaling import make_spec

    params = load_params(args.config)
    budget = parse_budget(args.budget, args.platform) if args.budget else None
    explicit = args.n_scale is not None or args.k_scale is not None or args.method is not None
    the_plan = None
    if budget and not explicit:
        the_plan = plan(args.platform, budget, _capacity(args), params, preserve=args.preserve)
        n, k, method = the_plan.n_scale, the_plan.k_scale, the_plan.method
    else:
        n = args.n_scale if args.n_scale is not None else DEFAULT_SCALE
        k = args.k_scale if args.k_scale is not None else (1.0 if args.method == "n" else n)
        method = args.method
    rates, source = compensation_rates(args.rates, params)
    spec = make_spec(
        params,
        n,
        k,
        method=method,
        input=args.input,
        allow_partial=args.allow_partial,
        rates_hz=rates,
        rates_source=source,
    )
    if budget and explicit:
        res = _capacity(args)(spec, budget)
        if not fits(res, budget):
            raise UserError(
                f"n={spec.n_scale:g}, k={spec.k_scale:g} needs {format_needs(res, budget)}, "
                "over the "
                f"budget {args.budget}; lower the scales or drop them to let the "
                "planner choose"
            )
    return params, spec, the_plan


def _check_times_on_grid(args, dt_ms: float) -> None:
    """Times must be whole time steps: NEST would round them silently, sPyNNaker truncate."""
    for option, value in (("--t-sim", args.t_sim), ("--t-presim", args.t_presim)):
        steps = value / dt_ms
        if abs(steps - round(steps)) > 1e-6:
            raise UserError(
                f"{option} {value:g} ms is not a whole number of {dt_ms:g} ms time steps; use "
                f"{round(steps) * dt_ms:g}"
            )


def _check_threads(threads: int | None, force: bool) -> None:
    """More threads than cores only makes NEST's threads wait on each other: refused unless
    --force."""
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores and not force:
        raise UserError(
            f"--threads {threads} exceeds this machine's {cores} cores (extra threads share "
            f"the cores and wait at every step's barrier); use --threads {cores}, or --force"
        )


def _check_run_args(ap, args, platform) -> None:
    """Refuse bad values and options of another platform before anything is built."""
    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be >= 1")
    _check_threads(args.threads, args.force)
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    if not 0 < args.record_fraction <= 1:
        raise UserError("--record-fraction must be in (0, 1]")
    if args.t_sim <= 0:
        raise UserError("--t-sim must be > 0 ms")
    _check_platform_options(ap, args, platform)
    if args.out is not None:
        from ..rundir import check_new_dir

        check_new_dir(args.out)  # before any simulator is imported


def _model_for_run(args, argv):
    """(params, spec, plan) from ``--model`` or the model options; sets ``args.seeds``
    (several with ``--seeds`` or a model file's seeds) and ``args.model_fingerprint``."""
    args.model_fingerprint, args.seeds = None, [args.seed]
    if args.job_seeds:
        from ..study import parse_seeds

        args.seeds = parse_seeds(args.job_seeds)
        args.seed = args.seeds[0]
    if args.code_commit:
        from pynn_microcircuit.platforms.spinnaker.code import check_commit

        check_commit(args.code_commit)
    if args.model:
        params, spec, seeds, args.model_fingerprint = _from_model_file(args, argv)
        if "--seed" not in argv:
            args.seed, args.seeds = seeds[0], seeds
        return params, spec, None
    if args.fingerprint:
        raise UserError("--fingerprint goes with --model")
    return _spec_from_args(args)


def cmd_run(argv) -> int:
    ap = build_run_parser()
    args = ap.parse_args(argv)
    _setup_logging(args.quiet)
    from pynn_microcircuit.platforms.mpi import launched_rank

    if launched_rank() > 0:  # under mpirun rank 0 reports; the others only warn
        logging.getLogger().setLevel(logging.WARNING)
    platform = get_platform(args.platform)
    _check_run_args(ap, args, platform)
    params, spec, the_plan = _model_for_run(args, argv)
    if the_plan:
        for line in the_plan.explanation:
            log.info("plan: %s", in_cli_words(line))
    _check_times_on_grid(args, spec.resolution_ms)
    if platform.command:  # the platform's own front end (e.g. SpiNNaker's job preparation)
        import importlib

        module, func = platform.command.split(":")
        return getattr(importlib.import_module(module), func)(args, argv, params, spec, the_plan)
    return _run_generic(args, argv, platform, params, spec, the_plan)


def _run_generic(args, argv, platform, params, spec, the_plan) -> int:
    """Check the model fits, run it through ``platform.run``, print the rates and timings,
    analyse it."""
    for note in spec.notes:
        log.warning(note)
    if not args.force:
        platform.check_fits(spec, params, _capacity_options(args))
    log.info(
        "model: n=%g k=%g method=%s, %d neurons, %d synapses",
        spec.n_scale, spec.k_scale, spec.method, spec.total_neurons, spec.total_synapses,
    )  # fmt: skip
    from ..runner import RunOptions

    planned = (the_plan.predicted.get(SETTINGS) or {}) if the_plan else {}
    opts = RunOptions(
        t_presim_ms=args.t_presim,
        t_sim_ms=args.t_sim,
        seed=args.seed,
        threads=args.threads,
        record_fraction=args.record_fraction,
        # a plan made for a memory budget may need compact synapses
        synapses=planned.get("synapses", args.synapses)
        if args.synapses == "auto"
        else args.synapses,
    )
    t0 = time.perf_counter()
    run_dir = platform.run(
        RunRequest(
            params, spec, opts,
            out=args.out,
            plan=the_plan.to_dict() if the_plan else None,
            settings={d: getattr(args, d) for d in platform.options},
            progress=None if args.quiet else _Progress(),
            extra={"command": ["run.py", *argv]},
        )
    )  # fmt: skip
    if run_dir is None:  # an MPI rank other than 0: rank 0 reports
        return 0
    from ..rundir import read_run_json

    rec = read_run_json(run_dir)
    print(format_rate_table(rec, params.full_rates_hz))
    print(_timing_line(rec, time.perf_counter() - t0))
    print(f"run directory: {run_dir}")
    if not args.no_analysis:
        from pynn_microcircuit.analysis.report import analyse

        log.info("analysing the run (statistics, figures, report)")
        out = analyse(run_dir, seed=args.seed)
        print(f"report: {out / 'report.html'}")
    return 0


def _timing_line(rec: dict, total_s: float) -> str:
    """Build and simulation time, real-time factor, peak memory, threads/ranks of a run."""
    t = rec["timings_s"]
    where = f", threads {rec['threads']}" if rec.get("threads") else ""
    if rec.get("mpi_ranks", 1) > 1:
        where += f" x {rec['mpi_ranks']} MPI ranks"
    return (
        f"build {t['build']:.1f} s, simulate {t['simulate']:.1f} s "
        f"({rec['real_time_factor']:.1f}x real time), peak memory "
        f"{rec['peak_rss_bytes'] / 2**30:.2f} GiB{where}; total {total_s:.0f} s"
    )


def cmd_analyse(argv) -> int:
    ap = Parser(
        prog="run.py analyse", description="Statistics, figures and an HTML report of a run."
    )
    ap.add_argument("run", help="run directory")
    ap.add_argument("--seed", type=int, default=0, help="seed of the neuron sampling")
    args = ap.parse_args(argv)
    _setup_logging(False)
    from pynn_microcircuit.analysis.report import analyse

    out = analyse(args.run, seed=args.seed)
    print(f"report: {out / 'report.html'}")
    return 0


def cmd_compare(argv) -> int:
    ap = Parser(
        prog="run.py compare",
        description="Compare a run with reference runs: verdicts at a stated error rate "
        "(false discovery rate or family-wise), each with the smallest difference it could "
        "have detected.",
    )
    ap.add_argument(
        "run",
        nargs="+",
        help="run directory to test, or several (a test ensemble: seeds of one model), or a "
        "reference/ensemble directory (e.g. a fetched SpiNNaker job of several seeds)",
    )
    ap.add_argument(
        "--reference", nargs="+", required=True, help="reference run or ensemble directories"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the neuron sampling")
    ap.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="error rate of the verdict table (default 0.05): its family-wise false-alarm "
        "rate, or with --control fdr its false discovery rate",
    )
    ap.add_argument(
        "--control",
        choices=["fwer", "fdr"],
        default=None,
        help="multiple-comparison control: fwer (Holm, default) bounds the chance of any false "
        "'differs' in the table; fdr (Benjamini-Hochberg) the expected share of false ones "
        "among the table's 'differs', assuming positively dependent cells (not shown here)",
    )
    ap.add_argument(
        "--margin",
        default=None,
        help="equivalence margins, e.g. rate=5%%,correlation=20%%,cv_isi=0.05: cells whose "
        "confidence interval lies within are 'equivalent'",
    )
    ap.add_argument(
        "--detect",
        default=None,
        help="effects whose required simulated time each cell states, e.g. "
        "rate=5%%,correlation=30%% (default rate=10%%,correlation=50%%,synchrony=20%%)",
    )
    args = ap.parse_args(argv)
    _setup_logging(False)
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be in (0, 1), got {args.alpha}")
    from pynn_microcircuit.analysis.report import compare_runs
    from pynn_microcircuit.analysis.verdicts import (
        DEFAULT_CONTROL,
        parse_margins,
        rate_words,
        verdict_text_table,
    )

    args.control = args.control or DEFAULT_CONTROL
    margins = parse_margins(args.margin)
    detect = parse_margins(args.detect, option="--detect")
    out, _ = compare_runs(
        args.run if len(args.run) > 1 else args.run[0], args.reference, seed=args.seed,
        alpha=args.alpha, margins=margins, detect=detect, control=args.control,
    )  # fmt: skip
    import json

    result = json.loads((out / "comparison.json").read_text())
    cells = result["cells"]
    print(f"verdicts at {rate_words(args.control, args.alpha)}:")
    print(verdict_text_table(cells))
    print(f"overdispersion priors: {result['overdispersion_prior']['note']}")
    sources = next((c["variance_source"] for c in cells if c.get("variance_source")), None)
    if sources:
        print(f"variance sources (e.g. {cells[0]['population']}): test {sources['test']}; "
              f"references {sources['reference']} (every cell's in comparison.json)")  # fmt: skip
    print(f"report: {out / 'report.html'}")
    return 0


def cmd_export(argv) -> int:
    ap = Parser(
        prog="run.py export",
        description="Write a run (or a subset) as a Neo file (NIX or MATLAB) for other tools.",
    )
    ap.add_argument("run", help="run directory")
    ap.add_argument("--format", choices=["nix", "mat"], default="nix")
    ap.add_argument("--populations", default=None, help="comma-separated, e.g. L4E,L4I")
    ap.add_argument(
        "--max-neurons", type=int, default=None, help="first N neurons of each population"
    )
    ap.add_argument("--out", default=None, help="file to write (default RUN/../RUN.FORMAT)")
    args = ap.parse_args(argv)
    _setup_logging(False)
    from pynn_microcircuit.analysis.io import export_neo, load_run

    run = load_run(args.run)
    out = args.out or str(Path(args.run).resolve()) + f".{args.format}"
    pops = args.populations.split(",") if args.populations else None
    path = export_neo(run, out, args.format, max_per_population=args.max_neurons, populations=pops)
    print(f"wrote {path}")
    return 0


def cmd_import(argv) -> int:
    ap = Parser(
        prog="run.py import",
        description="Make a run directory from INM-6's PD14 example output (NEST ASCII "
        "spike_recorder-*.dat and population_nodeids.dat), e.g. to compare against it.",
    )
    ap.add_argument("source", help="the example's data folder")
    ap.add_argument("--t-presim", type=_positive_float("--t-presim"), default=DEFAULT_T_PRESIM_MS)
    ap.add_argument("--t-sim", type=_positive_float("--t-sim"), default=DEFAULT_T_SIM_MS)
    ap.add_argument("--k-scale", type=_scale, default=None, help="default: the n scaling")
    ap.add_argument("--out", default=None, help="new run directory (must not exist)")
    args = ap.parse_args(argv)
    from pynn_microcircuit.analysis.importers import import_inm6

    run_dir = import_inm6(args.source, args.out, args.t_presim, args.t_sim, args.k_scale)
    print(
        f"run directory: {run_dir}\ncompare with it: python run.py compare RUN --reference {run_dir} ..."
    )
    return 0


def build_plan_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="run.py plan",
        description="Choose n, k and method that fit a hardware budget, and say what it costs.",
    )
    ap.add_argument("--platform", default="nest", choices=platform_names())
    ap.add_argument(
        "--budget", required=True, help="KEY=VALUE[,...], e.g. memory=2GiB or cores=800"
    )
    ap.add_argument("--preserve", choices=["rates", "correlations", "balanced"], default="balanced")
    ap.add_argument("--t-sim", type=_positive_float("--t-sim"), default=DEFAULT_T_SIM_MS)
    ap.add_argument("--t-presim", type=_positive_float("--t-presim"), default=DEFAULT_T_PRESIM_MS)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--synapses", choices=SYNAPSE_CHOICES, default="auto",
                    help="NEST connection storage (as for run)")  # fmt: skip
    ap.add_argument("--config", default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def cmd_plan(argv) -> int:
    import json

    from ..budget import parse_budget, plan
    from ..params import load_params

    args = build_plan_parser().parse_args(argv)
    budget = parse_budget(args.budget, args.platform)
    params = load_params(args.config)
    the_plan = plan(args.platform, budget, _capacity(args), params, preserve=args.preserve)
    platform = get_platform(args.platform)
    out = the_plan.to_dict()
    lines = list(the_plan.explanation) + platform.plan_notes(out, params)
    if args.json:
        print(json.dumps(out))
        return 0
    print(in_cli_words("\n".join(lines)))
    flags = platform.run_flags(the_plan.predicted.get(SETTINGS) or {})
    print(
        f"run it: python run.py --platform {args.platform} --n-scale {the_plan.n_scale:g} "
        f"--k-scale {the_plan.k_scale:g} --method {the_plan.method}{flags}"
    )
    return 0


def format_rate_table(rec: dict, full_rates) -> str:
    """Per-population rates of a run beside the published full-scale rates."""
    lines = [
        f"{'population':<10} {'neurons':>8} {'rate (Hz)':>10} {'full scale':>11} {'ratio':>6}",
    ]
    for (name, pop), ref in zip(rec["populations"].items(), full_rates):
        r = pop["mean_rate_hz"]
        lines.append(
            f"{name:<10} {pop['n_neurons']:>8d} {r:>10.3f} {ref:>11.3f} "
            f"{r / ref if ref else float('nan'):>6.2f}"
        )
    return "\n".join(lines)


#: The core's parameter names -> this command line's options (:class:`UserError`'s words).
CLI_OPTIONS = {
    "n_scale": "--n-scale", "k_scale": "--k-scale", "allow_partial": "--allow-partial",
    "force": "--force", "out": "--out", "config": "--config", "preserve": "--preserve",
    "input": "--input", "budget": "--budget", "rates": "--rates",
}  # fmt: skip


def in_cli_words(text: str, key: str | None = None) -> str:
    """A core message in command-line words: ``n_scale`` -> ``--n-scale``,
    ``allow_partial=True`` -> ``--allow-partial``, ``rates='theory'`` -> ``--rates theory``,
    ``budget memory=...`` -> ``--budget memory=...``, and the last mention of ``key`` (the
    parameter at fault, e.g. ``out``) -> its option."""
    import re

    text = re.sub(r"\b(allow_partial|force)=True\b", lambda m: CLI_OPTIONS[m[1]], text)
    text = re.sub(r"\brates='(\w+)'", r"--rates \1", text)
    text = re.sub(r"(?<![-\w])(n_scale|k_scale)\b", lambda m: CLI_OPTIONS[m[1]], text)
    text = re.sub(r"\bbudget (memory=)", r"--budget \1", text)
    if key in CLI_OPTIONS and CLI_OPTIONS[key] not in text:
        hits = list(re.finditer(rf"(?<![-\w/.']){re.escape(key)}\b(?!['/])", text))
        if hits:
            m = hits[-1]
            text = text[: m.start()] + CLI_OPTIONS[key] + text[m.end() :]
    return text


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("PyNN").setLevel(logging.ERROR)


COMMANDS = {
    "run": cmd_run,
    "plan": cmd_plan,
    "analyse": cmd_analyse,
    "compare": cmd_compare,
    "export": cmd_export,
    "import": cmd_import,
}


def _lazy(module: str, func: str):
    """A command that imports ``pynn_microcircuit.cli.<module>`` only when it runs."""

    def cmd(argv):
        import importlib

        return getattr(importlib.import_module(f".{module}", __package__), func)(argv)

    return cmd


COMMANDS.update(
    reference=_lazy("study", "cmd_reference"),
    sweep=_lazy("study", "cmd_sweep"),
    submit=_lazy("jobs", "cmd_submit"),
    status=_lazy("spinnaker", "cmd_status"),
    fetch=_lazy("spinnaker", "cmd_fetch"),
    benchmark=_lazy("benchmark", "cmd_benchmark"),
)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # NEST's 13-line start-up banner (printed by every MPI rank, and even with -q) would bury
    # the progress lines; PyNEST leaves it out when PYNEST_QUIET is set (nest/ll_api.py). The
    # NEST version is logged with the run directory and recorded in run.json.
    os.environ.setdefault("PYNEST_QUIET", "1")
    import signal

    def terminated(signum, _frame):  # SIGTERM (kill, a batch system) ends like Ctrl-C
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminated)
    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return cmd_run(argv)
    except UserError as exc:
        from ..rundir import mark_incomplete

        message = in_cli_words(str(exc), getattr(exc, "key", None))
        mark_incomplete(f"failed: {message}")  # a run directory it leaves says why
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        from ..rundir import mark_incomplete

        why = f"interrupted by {exc.args[0] if exc.args else 'SIGINT'}"
        left = mark_incomplete(why)
        where = f"; unfinished, marked INCOMPLETE: {', '.join(map(str, left))}" if left else ""
        print(f"{why}{where}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. '| head': the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
