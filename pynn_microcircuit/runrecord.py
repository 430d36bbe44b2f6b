"""``run.json``: the record every run directory carries, written and read here only.

:class:`RunRecord` names the fields every run states (what was simulated, at which scale,
for how long, with which seed and software) with their types and units; a platform's own
entries (NEST threads and ranks, SpiNNaker's machine, knobs, mapping and provenance, the
emulation record, ...) travel in ``details`` and are written beside them, so a reader sees
one flat JSON object. Reading checks the format version and the common fields, and names the
first problem in one line.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .jsonio import write_json_atomic

#: Format of run.json; a reader refuses another one rather than misreading it.
RUN_JSON_VERSION = 1
RUN_FILE = "run.json"


#: Marker of a run directory whose run has not finished (removed when run.json is written).
INCOMPLETE_FILE = "INCOMPLETE"
#: Run directories this process created and has not finished (for the interrupt handler).
OPEN_RUNS: list[Path] = []


def _mark_started(path: Path) -> Path:
    (path / INCOMPLETE_FILE).write_text(
        f"started {_dt.datetime.now():%Y-%m-%d %H:%M:%S} by process {os.getpid()}; "
        "unfinished until run.json is written\n"
    )
    OPEN_RUNS.append(path)
    return path


def mark_incomplete(reason: str) -> list[Path]:
    """Add ``reason`` to the marker of every run directory this process left unfinished;
    returns them."""
    marked = []
    for path in OPEN_RUNS:
        marker = path / INCOMPLETE_FILE
        if marker.is_file():
            with open(marker, "a") as fh:
                fh.write(f"{reason} at {_dt.datetime.now():%Y-%m-%d %H:%M:%S}\n")
            marked.append(path)
    return marked


def finished(path: Path) -> None:
    """The run in ``path`` is complete (run.json written): drop its marker."""
    (Path(path) / INCOMPLETE_FILE).unlink(missing_ok=True)
    if Path(path) in OPEN_RUNS:
        OPEN_RUNS.remove(Path(path))


def incomplete_reason(path: Path) -> str | None:
    """What the marker of an unfinished run says (None where there is none)."""
    marker = Path(path) / INCOMPLETE_FILE
    if not marker.is_file():
        return None
    return "; ".join(marker.read_text().strip().splitlines())


@dataclass
class RunRecord:
    """The common part of ``run.json`` (times in ms, sizes as counts).

    Attributes
    ----------
    platform : str
        ``"nest"``, ``"spinnaker"``, or a description of imported data.
    simulated : bool
        False for a SpiNNaker mapping on a virtual board (no spikes).
    n_scale, k_scale : float
        Neuron-count and in-degree scale factors of the model.
    method : str
        Downscaling compensation (:data:`pynn_microcircuit.scaling.METHODS`).
    resolution_ms, t_presim_ms, t_sim_ms : float
        Time step, discarded warm-up and analysed duration (ms).
    populations : dict
        ``{population: {"n_neurons", "n_recorded", ...}}``.
    seed : int, optional
        The run's master seed (None for imported data that does not say).
    input : str, optional
        External drive (``"poisson"`` or ``"dc"``).
    record_fraction : float, optional
        Fraction of each population whose spikes were recorded.
    n_synapses : int, optional
        Synapses of the model specification.
    versions : dict
        Python and package versions of the run.
    spec : dict, optional
        The whole model specification (:meth:`pynn_microcircuit.scaling.ModelSpec.to_dict`).
    plan : dict, optional
        The budget plan that chose this model, if any.
    timings_s : dict
        Wall-clock phases (s).
    peak_rss_bytes : int, optional
        Peak resident memory of the run's process (bytes; the largest rank under MPI).
    details : dict
        The platform's own entries, written at the top level of run.json.
    """

    platform: str
    simulated: bool
    n_scale: float
    k_scale: float
    method: str
    resolution_ms: float
    t_presim_ms: float
    t_sim_ms: float
    populations: dict
    seed: int | None = None
    input: str | None = None
    record_fraction: float | None = None
    n_synapses: int | None = None
    versions: dict = field(default_factory=dict)
    spec: dict | None = None
    plan: dict | None = None
    timings_s: dict = field(default_factory=dict)
    peak_rss_bytes: int | None = None
    details: dict = field(default_factory=dict)

    @classmethod
    def for_model(cls, platform: str, spec, opts, **fields: Any) -> RunRecord:
        """A record whose model fields come from ``spec`` (:class:`~pynn_microcircuit.scaling.ModelSpec`)
        and ``opts`` (:class:`~pynn_microcircuit.runner.RunOptions`); ``fields`` add the rest."""
        return cls(
            platform=platform,
            n_scale=spec.n_scale,
            k_scale=spec.k_scale,
            method=spec.method,
            input=spec.input,
            resolution_ms=spec.resolution_ms,
            n_synapses=spec.total_synapses,
            spec=spec.to_dict(),
            seed=opts.seed,
            t_presim_ms=opts.t_presim_ms,
            t_sim_ms=opts.t_sim_ms,
            record_fraction=opts.record_fraction,
            **fields,
        )

    def to_dict(self) -> dict:
        """The flat JSON object: ``format_version``, the common fields, then ``details``."""
        common = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        details = common.pop("details")
        clash = set(details) & set(common)
        if clash:
            raise ValueError(f"details repeat common run.json fields: {sorted(clash)}")
        return {"format_version": RUN_JSON_VERSION, **common, **details}

    @classmethod
    def from_dict(cls, obj: dict, where: str = RUN_FILE) -> RunRecord:
        """Check ``obj`` (a parsed run.json) and split it into common fields and details."""
        if not isinstance(obj, dict):
            raise UserError(f"'{where}' is not a JSON object; the run is corrupt")
        version = obj.get("format_version")
        if version != RUN_JSON_VERSION:
            raise UserError(
                f"'{where}' has format_version {version!r}, this version reads "
                f"{RUN_JSON_VERSION}; rerun it or use the matching pynn-microcircuit"
            )
        names = {f.name: f for f in dataclasses.fields(cls) if f.name != "details"}
        required = [n for n, f in names.items() if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]  # fmt: skip
        missing = [n for n in required if n not in obj]
        if missing:
            raise UserError(
                f"'{where}' lacks {', '.join(missing)}: not a complete pynn-microcircuit run "
                "record; rerun it (or import foreign data with run.py import)"
            )
        for name, kind in (("n_scale", float), ("k_scale", float), ("t_sim_ms", float),
                           ("t_presim_ms", float), ("resolution_ms", float),
                           ("populations", dict), ("simulated", bool)):  # fmt: skip
            value = obj[name]
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            if not ok or isinstance(value, bool) and kind is float:
                raise UserError(f"'{where}': {name} is {value!r}, not a {kind.__name__}")
        common = {n: obj[n] for n in names if n in obj}
        details = {k: v for k, v in obj.items() if k not in names and k != "format_version"}
        return cls(**common, details=details)

    def write(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/run.json`` atomically (a ``.part`` file renamed): a folder with a
        run.json holds a finished run."""
        path = Path(run_dir) / RUN_FILE
        write_json_atomic(path, self.to_dict())
        finished(Path(run_dir))
        return path

    @classmethod
    def read(cls, run_dir: str | Path) -> RunRecord:
        """The record of ``run_dir``; one-line errors for a missing, corrupt or foreign file."""
        path = Path(run_dir) / RUN_FILE
        if not path.is_file():
            why = incomplete_reason(Path(run_dir))
            if why:
                raise UserError(f"'{run_dir}' holds an unfinished run ({why}); rerun it")
            raise UserError(
                f"'{run_dir}' is not a run directory (no {RUN_FILE}); pass a run's folder"
            )
        try:
            obj = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(
                f"'{path}' is not valid JSON (line {exc.lineno}); the run is corrupt"
            ) from None
        return cls.from_dict(obj, str(path))
