"""Reference ensembles and downscaling sweeps: the grid, its cost, resumable execution.

Every run of a study is an ordinary run directory produced by ``run.py`` in a child process
(one NEST kernel per process: memory is returned between runs, and an interrupt kills one run,
not the bookkeeping). A run counts as finished when its ``run.json`` exists: that file is
written last and atomically (:meth:`pynn_microcircuit.runrecord.RunRecord.write`), so a folder
without it is the remains of an interrupted run and is redone; a finished run is never redone
nor touched. No simulator import here.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .entry import command
from .errors import UserError
from .params import Params
from .rundir import RUN_FILE, SPIKES_FILE, write_json_atomic
from .scaling import METHODS, make_spec  # noqa: F401 - METHODS re-exported for the CLI

log = logging.getLogger(__name__)

#: Sweep groups beyond the plain methods: linear-k below its k_min with the external variance
#: it cannot keep dropped (``--allow-partial``), and N-scaling at a reduced in-degree
#: (``n@K``: K-scaling k = K with sqrt-k compensation, then N shrunk further at that K).
SWEEP_GROUPS = ("linear-k-partial", "n@0.5", "n@0.2")


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"1,3,7"`` -> [1, 3, 7]; ranges and lists combine."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise UserError(f"--seeds '{text}' is not a list of seeds; use e.g. 0-4 or 1,3,7") from None
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds '{text}' repeats a seed; give each seed once")
    return seeds


def parse_list(text: str, what: str, allowed=None, kind=str) -> list:
    """Comma-separated values, checked against ``allowed``; one-line error naming the bad one."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            v = kind(part)
        except ValueError:
            raise UserError(
                f"{what} '{part}' is not a {kind.__name__}; e.g. {what} 1,0.5"
            ) from None
        if allowed is not None and v not in allowed:
            raise UserError(f"{what} '{part}' is not one of {', '.join(map(str, allowed))}")
        out.append(v)
    return out


def is_finished(run_dir: Path) -> bool:
    """A run directory whose run.json and spikes were written (or a mapping-only run)."""
    rec = run_dir / RUN_FILE
    if not rec.is_file():
        return False
    try:
        meta = json.loads(rec.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return meta.get("simulated") is False or (run_dir / SPIKES_FILE).is_file()


@dataclass(frozen=True)
class Cell:
    """One run of a study: model (n, k, method) and seed, and where it lives."""

    method: str
    n_scale: float
    k_scale: float
    seed: int
    allow_partial: bool = False

    @property
    def name(self) -> str:
        partial = "-partial" if self.allow_partial else ""
        return f"{self.method}{partial}_n{self.n_scale:g}_k{self.k_scale:g}_s{self.seed}"

    def args(self) -> list[str]:
        return [
            "--n-scale",
            f"{self.n_scale:g}",
            "--k-scale",
            f"{self.k_scale:g}",
            "--method",
            self.method,
            "--seed",
            str(self.seed),
            *(["--allow-partial"] if self.allow_partial else []),
        ]

    def spec(self, p: Params):
        """The cell's :class:`~pynn_microcircuit.scaling.ModelSpec`."""
        return make_spec(
            p, self.n_scale, self.k_scale, method=self.method, allow_partial=self.allow_partial
        )


def method_cell(method: str, scale: float, seed: int) -> Cell:
    """The run that ``method`` at ``scale`` means: ``n`` shrinks N only (k = 1); the K-scaling
    methods shrink N and K together (n = k = scale), as in the seed study;
    ``linear-k-partial`` is linear-k with ``--allow-partial``; ``n@K`` shrinks N to ``scale``
    at the in-degree scaling K (sqrt-k compensation). Scale 1 is the same full model for
    every method, so it maps to one cell (method ``none``)."""
    if scale >= 1.0:
        return Cell("none", 1.0, 1.0, seed)
    if method == "n":
        return Cell("n", scale, 1.0, seed)
    if method == "linear-k-partial":
        return Cell("linear-k", scale, scale, seed, allow_partial=True)
    if method.startswith("n@"):
        k = float(method[2:])
        return Cell("sqrt-k", min(scale, k), k, seed)
    return Cell(method, scale, scale, seed)


def feasibility(cell: Cell, p: Params) -> str | None:
    """None if ``make_spec`` accepts the cell, else its one-line reason (e.g. linear-k below
    k_min)."""
    try:
        cell.spec(p)
    except UserError as exc:
        return str(exc)
    return None


@dataclass
class StudyPlan:
    """Runs to do, with their predicted cost; cells that cannot run, with the reason."""

    runs: list[tuple[Cell, Path]]
    skipped: list[tuple[str, float, str]] = field(default_factory=list)
    predictions: dict = field(default_factory=dict)

    def todo(self) -> list[tuple[Cell, Path]]:
        return [(c, d) for c, d in self.runs if not is_finished(d)]


def predict_cells(cells, p: Params, predict) -> dict:
    """``{cell name: predict(spec)}``: each cell's predicted resources from a platform's
    capacity model (e.g. peak memory in bytes and wall time in s from
    ``pynn_microcircuit.platforms.nest.capacity.predict``, which the command line passes in)."""
    return {c.name: predict(c.spec(p)) for c in cells}


def format_seconds(s: float) -> str:
    """``"42 s"`` below 90 s, else ``"3.5 min"``."""
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def format_plan(plan: StudyPlan) -> str:
    """The plan as a table: run, predicted memory and time, done or to do; then the total."""
    skipped = [(f"{method} at {scale:g}", why) for method, scale, why in plan.skipped]
    w = max([28] + [len(c.name) + 2 for c, _ in plan.runs] + [len(s) + 2 for s, _ in skipped])
    lines = [f"{'run':<{w}}{'memory':>10}{'time':>10}  state"]
    total = 0.0
    for cell, d in plan.runs:
        pr = plan.predictions.get(cell.name, {})
        done = is_finished(d)
        if not done:
            total += pr.get("walltime", 0.0)
        lines.append(
            f"{cell.name:<{w}}{pr.get('memory', 0) / 2**30:>8.2f} G"
            f"{format_seconds(pr.get('walltime', 0)):>10}  {'done (reused)' if done else 'to run'}"
        )
    for what, why in skipped:
        lines.append(f"{what:<{w}}{'':>20}  skipped: {why.split(': ')[0]}")
    from .budget import margins_of

    margin = max((margins_of(plan.predictions.get(c.name, {}))["walltime"] for c, _ in plan.runs),
                 default=0.0)  # fmt: skip
    lines.append(
        f"{len(plan.todo())} of {len(plan.runs)} runs to do, predicted {format_seconds(total)} "
        f"(capacity model; its wall-time margin +{100 * margin:.0f} %)"
    )
    return "\n".join(lines)


def check_fits_machine(plan: StudyPlan, memory_bytes: float | None = None) -> None:
    """Refuse a plan with a run that a single run's check would refuse
    (:func:`pynn_microcircuit.machine.fits_memory`: the prediction with its capacity model's
    margin, :func:`pynn_microcircuit.budget.margins_of`, against the usable share of
    ``memory_bytes``, default this machine's), before the first run starts rather than when
    that run's turn comes."""
    from .machine import fits_memory
    from .machine import memory_bytes as machine_memory

    if memory_bytes is None:
        memory_bytes = machine_memory()
    from .budget import margins_of

    big = []
    for c, _ in plan.todo():
        pred = plan.predictions.get(c.name, {})
        if not fits_memory(pred.get("memory", 0), memory_bytes, margins_of(pred)["memory"]):
            big.append((c.name, pred["memory"]))
    if big:
        name, mem = max(big, key=lambda x: x[1])
        raise UserError(
            f"{len(big)} run(s) would not fit this machine's {memory_bytes / 2**30:.0f} GiB "
            f"(largest: {name} needs {mem / 2**30:.1f} GiB); drop those scales, or submit "
            "the same command to a cluster: run.py submit --scheduler slurm <reference|sweep> ..."
        )


def run_cell(cell: Cell, run_dir: Path, common: list[str], log_file: Path | None = None) -> float:
    """Run one cell in a child ``run.py`` (no analysis) into ``run_dir``; returns seconds.

    Leftovers of an interrupted attempt (a folder without run.json) are removed first. On
    Ctrl-C or SIGTERM the child is stopped and its partial folder removed, so the next call
    starts that run afresh.
    """
    if is_finished(run_dir):
        return 0.0
    if run_dir.exists():
        log.warning("%s: removing an unfinished earlier attempt", run_dir)
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    cmd = command(*cell.args(), *common, "--no-analysis", "-q", "--out", str(run_dir))
    t0 = time.perf_counter()
    out = open(log_file, "a") if log_file else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate()
        except BaseException:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            if not is_finished(run_dir):  # the child may have finished just before
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
    finally:
        if log_file:
            out.close()
    if proc.returncode != 0:
        last = (err or "").strip().splitlines()[-1:] or ["(no message)"]
        raise UserError(f"run {cell.name} failed (exit {proc.returncode}): {last[0]}")
    return time.perf_counter() - t0


def run_all(plan: StudyPlan, common: list[str], log_file: Path | None = None, echo=print) -> None:
    """Run every unfinished cell of ``plan`` in order, printing one progress line per run."""
    todo = plan.todo()
    for i, (cell, d) in enumerate(todo, 1):
        pred = plan.predictions.get(cell.name, {}).get("walltime")
        eta = f", predicted {format_seconds(pred)}" if pred else ""
        echo(f"[{i}/{len(todo)}] {cell.name}: running{eta}")
        took = run_cell(cell, d, common, log_file)
        echo(f"[{i}/{len(todo)}] {cell.name}: done in {format_seconds(took)}")


def claim_study_dir(path: Path, kind: str, options: dict) -> None:
    """Create ``path`` for a study of ``kind`` or check that an existing one was made with the
    same ``options`` (resuming); a different study there is an error, never overwritten."""
    meta_file = path / f"{kind}.json"
    if path.exists() and any(path.iterdir()):
        if not meta_file.is_file():
            raise UserError(f"'{path}' exists and is not a {kind} directory; choose another --out")
        old = json.loads(meta_file.read_text())
        diff = [k for k in options if old.get(k) != options[k]]
        if diff:
            k = diff[0]
            raise UserError(
                f"'{path}' holds a {kind} made with {k}={old.get(k)!r}, not {options[k]!r}; "
                "rerun with the same options to resume, or choose another --out"
            )
        return
    path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(meta_file, {"kind": kind, **options})


def load_reference(ref: Path) -> tuple[dict, list[tuple[int, Path]]]:
    """Options and finished seed runs of a reference directory (error if none)."""
    meta_file = ref / "reference.json"
    if not meta_file.is_file():
        raise UserError(
            f"'{ref}' is not a reference directory (no reference.json); make one with "
            "'run.py reference'"
        )
    meta = json.loads(meta_file.read_text())
    runs = sorted(
        (int(d.name.split("_", 1)[1]), d)
        for d in ref.glob("seed_*")
        if d.is_dir() and is_finished(d)
    )
    if not runs:
        raise UserError(f"'{ref}' has no finished reference run; rerun 'run.py reference'")
    return meta, runs
