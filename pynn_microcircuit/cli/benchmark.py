"""``run.py benchmark``: the community-benchmark-style timing run on NEST."""

from __future__ import annotations

from ..errors import UserError
from ..runner import DEFAULT_T_PRESIM_MS, SYNAPSE_CHOICES
from ..scaling import METHODS
from .args import Parser
from .main import _positive_float, _Progress, _scale, _setup_logging


def cmd_benchmark(argv) -> int:
    ap = Parser(
        prog="run.py benchmark",
        description="Time the model on NEST as community benchmarks do: no spike recording, "
        "the warm-up excluded; prints the real-time factor and synaptic events per second "
        "and writes benchmark.json (full scale for 10 s by default).",
    )
    ap.add_argument("--n-scale", type=_scale, default=1.0)
    ap.add_argument("--k-scale", type=_scale, default=1.0)
    ap.add_argument("--method", choices=list(METHODS), default=None)
    ap.add_argument("--t-sim", type=_positive_float("--t-sim"), default=10_000.0,
                    help="timed model time, ms (default 10000)")  # fmt: skip
    ap.add_argument("--t-presim", type=_positive_float("--t-presim"), default=DEFAULT_T_PRESIM_MS)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--synapses", choices=SYNAPSE_CHOICES, default="auto",
                    help="NEST connection storage (as for run)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--out", default=None, help="new directory for benchmark.json")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    _setup_logging(args.quiet)
    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be >= 1")
    if args.out is not None:
        from ..rundir import check_new_dir

        check_new_dir(args.out)
    from ..machine import check_fits
    from ..params import Params
    from ..scaling import make_spec

    params = Params()
    spec = make_spec(params, args.n_scale, args.k_scale, method=args.method)
    from pynn_microcircuit.platforms.nest.capacity import predict

    def capacity(s, budget):  # no spikes are kept: the recording term is zero
        return predict(
            s, threads=budget.get("threads", args.threads), t_sim_ms=0.0, synapses=args.synapses
        )

    check_fits(spec, capacity(spec, {}), capacity, params, "nest")

    from pynn_microcircuit.platforms.nest.benchmark import run_benchmark

    progress = None if args.quiet else _Progress()
    out, r = run_benchmark(
        spec, args.seed, args.threads, args.t_presim, args.t_sim, args.out, progress,
        synapses=args.synapses,
    )  # fmt: skip
    print(
        f"n = {r['n_scale']:g}, k = {r['k_scale']:g}: {r['neurons']:,} neurons, "
        f"{r['synapses']:,} synapses, {r['threads']} threads\n"
        f"build {r['build_s']:.1f} s; {r['t_sim_ms'] / 1e3:g} s of model time in "
        f"{r['simulate_s']:.1f} s: real-time factor {r['real_time_factor']:.2f}, "
        f"{r['synaptic_events_per_s']:.3g} synaptic events/s, mean rate "
        f"{r['mean_rate_hz']:.2f} Hz, peak memory {r['peak_rss_bytes'] / 2**30:.2f} GiB\n"
        f"result: {out / 'benchmark.json'}"
    )
    return 0
